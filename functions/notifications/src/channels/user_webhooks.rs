//! The user-webhook channel: every event a user's webhook wants (their reminders, and with
//! `task_events` every change to their tasks), POSTed to it and signed with its own secret,
//! each attempt written to its delivery log (`GET /webhooks/{id}/deliveries`).
//!
//! These far ends are many and each is its owner's, so none may hold another's: nothing is
//! retried on the partition. A batch is gone through [`PARALLEL`] owners at a time, each
//! owner's events in order (a slow URL costs its owner's [`TIMEOUT`]s, not anyone else's), a
//! webhook that failed is not tried again within the batch, events not reached by the
//! invocation's deadline are left for the schedule, and an event with a delivery not done yet
//! is parked (see
//! `store::Parking`) until its retry is due: the function's schedule sends it then. A retry
//! waits a minute after the first failure, doubling to an hour (or the far end's
//! `Retry-After`), for up to [`GIVE_UP_AFTER_HOURS`] hours; then the log says `failed`. What an
//! answer means is `http_delivery`'s, as for every channel that POSTs; a URL whose name
//! resolves only to addresses that are not public is `failed` at once, with that reason.
//!
//! The body is the notification JSON for a reminder (as the operator's webhook gets it) and the
//! CloudEvents envelope for a task event; `X-Todo-Delivery` is the event id (the same on every
//! retry: deduplicate on it) and `X-Todo-Event` its type. Order is not kept across retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use futures_util::StreamExt;
use futures_util::stream;
use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume};
use todo_lambda::retry::Backoff;
use todo_lambda::table::TableError;
use todo_schema::event::EventType;
use todo_schema::notification::{Channel, DeliveryStatus, Notification};
use todo_schema::user_webhook::{UserWebhook, WebhookDelivery, check_url};
use todo_schema::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use todo_schema::{EventEnvelope, Timestamp};
use uuid::Uuid;

use super::delivery::SendError;
use super::http_delivery;
use super::parked::{Drain, DrainReport};
use super::public_dns::{PublicOnly, not_public};
use crate::store::{Parking, UserWebhooks, WebhookLog};

/// A user's webhook gets this long to answer.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// Owners whose events of a batch are sent at once.
pub const PARALLEL: usize = 16;
/// How long a delivery is retried before the log calls it failed.
pub const GIVE_UP_AFTER_HOURS: i64 = 24;
/// Header carrying the event's type.
pub const EVENT_HEADER: &str = "x-todo-event";
/// The function's name in its metrics and logs.
pub const NAME: &str = "channel-user-webhooks";

/// One event's outcome on the channel: settled (`None`), or due again then.
type Outcome = Result<Option<Timestamp>, TableError>;

/// How long a delivery not attempted before the invocation's deadline waits.
const HELD: Duration = Duration::from_secs(30);

/// The channel: its store, an HTTP client that reaches public addresses only, and the origins
/// the operator admits besides (`USER_WEBHOOK_PRIVATE_ORIGINS`; the local cloud's receiver).
pub struct UserWebhookChannel<'a, S> {
    pub store: &'a S,
    pub client: reqwest::Client,
    pub private_origins: Vec<String>,
}

/// The client every user webhook is sent with: a short timeout, no redirects (a 3xx is the
/// owner's to fix), and DNS answers limited to public addresses.
pub fn client() -> reqwest::Result<reqwest::Client> {
    client_resolving_with(Arc::new(PublicOnly))
}

/// [`client`] with another resolver in place of [`PublicOnly`]: for tests that stand in for
/// DNS (answering with [`super::public_dns::keep_public`], as it does).
pub fn client_resolving_with<R: reqwest::dns::Resolve + 'static>(
    resolver: Arc<R>,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(resolver)
        .build()
}

/// What a delivery that got no answer means: final when its name resolves only inside a
/// network (every attempt would find the same addresses), else what it means for every
/// channel that POSTs.
fn unanswered(error: reqwest::Error) -> SendError {
    match not_public(&error) {
        Some(refused) => SendError::Permanent(format!("webhook not reached: {refused}")),
        None => http_delivery::unanswered("webhook", TIMEOUT, error),
    }
}

/// Whether `hook` wants `event`.
fn wants(hook: &UserWebhook, event: &EventEnvelope) -> bool {
    event.payload.event_type() == EventType::ReminderDue || hook.task_events
}

/// How long after `attempts` failures the next attempt waits: a minute, doubling, at most an
/// hour (or the webhook's `Retry-After`, when longer).
const BACKOFF: Backoff = Backoff::doubling(Duration::from_secs(60), Duration::from_secs(3_600));

impl<S: UserWebhooks + WebhookLog + Parking + Sync> UserWebhookChannel<'_, S> {
    /// One event to each of its owner's `hooks` that wants it: `None` when every one is
    /// settled, else when the earliest unfinished one is due again.
    async fn event(
        &self,
        event: &EventEnvelope,
        hooks: &[UserWebhook],
        failed: &mut HashMap<Uuid, Timestamp>,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Outcome {
        let mut retry: Option<Timestamp> = None;
        for hook in hooks.iter().filter(|h| wants(h, event)) {
            if let Some(at) = self.deliver(hook, event, failed, now, deadline).await? {
                retry = Some(retry.map_or(at, |r| r.min(at)));
            }
        }
        Ok(retry)
    }

    /// One event to one webhook, logged; `Some(when)` while not done. `now` decides what is
    /// due and when retrying ends (the drain's time); the log records the clock's.
    async fn deliver(
        &self,
        hook: &UserWebhook,
        event: &EventEnvelope,
        failed: &mut HashMap<Uuid, Timestamp>,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Outcome {
        let previous = self.store.entry(hook.id, event.id).await?;
        if previous.as_ref().is_some_and(|p| p.status.is_final()) {
            return Ok(None);
        }
        if let Some(at) = previous
            .as_ref()
            .and_then(|p| p.next_attempt_at)
            .filter(|at| *at > now)
        {
            return Ok(Some(at));
        }
        // Behind its webhook's failure earlier in the batch: due when that one's retry is.
        if let Some(at) = failed.get(&hook.id).copied() {
            return Ok(Some(at));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Some(now.after(HELD)));
        }
        let (code, outcome) = self.send(hook, event).await;
        let at = Timestamp::now();
        let attempts = previous
            .as_ref()
            .map_or(0, |p| p.attempts)
            .saturating_add(1);
        let first_at = previous.as_ref().map_or(at, |p| p.first_attempt_at);
        let mut entry = WebhookDelivery {
            webhook_id: hook.id,
            event_id: event.id,
            event_type: event.payload.event_type().as_str().to_string(),
            status: DeliveryStatus::Delivered,
            attempts,
            last_status_code: code,
            last_error: None,
            delivered_at: Some(at),
            next_attempt_at: None,
            first_attempt_at: first_at,
            updated_at: at,
        };
        let given_up = now.as_datetime() - first_at.as_datetime()
            >= chrono::Duration::hours(GIVE_UP_AFTER_HOURS);
        let retry = match outcome {
            Ok(()) => None,
            Err(SendError::Permanent(reason)) => {
                entry.fail(reason);
                None
            }
            Err(SendError::Transient(reason) | SendError::Later(reason, _)) if given_up => {
                entry.fail(format!("gave up after {GIVE_UP_AFTER_HOURS} h: {reason}"));
                None
            }
            Err(SendError::Transient(reason)) => {
                Some(entry.retry(reason, now.max(at).after(BACKOFF.delay(attempts))))
            }
            Err(SendError::Later(reason, at_least)) => {
                let wait = BACKOFF.delay_honouring(attempts, Some(at_least));
                Some(entry.retry(reason, now.max(at).after(wait)))
            }
        };
        if let Some(retry_at) = retry {
            failed.insert(hook.id, retry_at);
        }
        self.store.log(&entry).await?;
        Ok(retry)
    }

    /// Sends one event; the answer's status code when there was one.
    async fn send(
        &self,
        hook: &UserWebhook,
        event: &EventEnvelope,
    ) -> (Option<u16>, Result<(), SendError>) {
        if let Err(reason) = check_url(&hook.url, &self.private_origins) {
            return (
                None,
                Err(SendError::Permanent(format!("url refused: {reason}"))),
            );
        }
        let body = match Notification::of(event) {
            Some(n) => serde_json::to_vec(&n),
            None => serde_json::to_vec(event),
        };
        let body = match body {
            Ok(body) => body,
            Err(e) => return (None, Err(SendError::Permanent(e.to_string()))),
        };
        let timestamp = Timestamp::now().epoch_seconds();
        let signature = sign(hook.secret.as_bytes(), timestamp, &body);
        let sent = self
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header(DELIVERY_HEADER, event.id.to_string())
            .header(EVENT_HEADER, event.payload.event_type().as_str())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => (
                Some(response.status().as_u16()),
                http_delivery::answered("webhook", response.status(), response.headers()),
            ),
            Err(e) => (None, Err(unanswered(e))),
        }
    }

    /// Each of `events` through [`Self::event`]: the owners [`PARALLEL`] at a time, each
    /// owner's events in order (so a healthy webhook gets them in order, and one that failed
    /// is not tried again within the batch).
    async fn attempt_all(
        &self,
        events: &[&EventEnvelope],
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Vec<Result<Option<Timestamp>, TableError>> {
        // The futures are gathered in a loop: a closure returning them trips the compiler's
        // Send inference.
        let mut owners = Vec::new();
        for (owner, theirs) in todo_lambda::kafka::by_owner(events.iter().copied()) {
            owners.push(self.owner_events(owner, theirs, now, deadline));
        }
        let done: Vec<Vec<(usize, Outcome)>> = stream::iter(owners)
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut out: Vec<Outcome> = events.iter().map(|_| Ok(None)).collect();
        for (i, outcome) in done.into_iter().flatten() {
            out[i] = outcome;
        }
        out
    }

    /// One owner's events of a batch, in order, their webhooks read once.
    async fn owner_events(
        &self,
        owner: &str,
        events: Vec<(usize, &EventEnvelope)>,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Vec<(usize, Outcome)> {
        let hooks = match self.store.webhooks(owner).await {
            Ok(hooks) => hooks,
            Err(e) => {
                return events
                    .into_iter()
                    .map(|(i, _)| (i, Err(e.clone())))
                    .collect();
            }
        };
        let mut failed = HashMap::new();
        let mut out = Vec::with_capacity(events.len());
        for (i, event) in events {
            out.push((
                i,
                self.event(event, &hooks, &mut failed, now, deadline).await,
            ));
        }
        out
    }

    /// Goes through a batch, parking each event not done; the first event the store failed
    /// on, and why.
    async fn go_through(
        &self,
        events: &[&EventEnvelope],
        deadline: tokio::time::Instant,
    ) -> Option<(usize, String)> {
        let outcomes = self.attempt_all(events, Timestamp::now(), deadline).await;
        let mut first_error = None;
        for (i, (event, outcome)) in events.iter().zip(outcomes).enumerate() {
            let result = match outcome {
                Ok(None) => Ok(()),
                Ok(Some(at)) => self.store.park(Channel::UserWebhook, *event, at).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                first_error.get_or_insert((i, e.to_string()));
            }
        }
        first_error
    }

    /// Sends what this channel parked until `now` or earlier, stopping at `deadline`.
    pub async fn drain(
        &self,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Result<DrainReport, TableError> {
        let mut drain = Drain::new(self.store, Channel::UserWebhook, now, deadline);
        while let Some(page) = drain.next_page::<EventEnvelope>().await? {
            let events: Vec<&EventEnvelope> = page.iter().map(|p| &p.content).collect();
            let outcomes = self.attempt_all(&events, now, deadline).await;
            for (parked, outcome) in page.iter().zip(outcomes) {
                match outcome {
                    Ok(None) => {
                        self.store.unpark(parked, Channel::UserWebhook).await?;
                        drain.report.settled += 1;
                    }
                    Ok(Some(at)) => {
                        self.store
                            .park(Channel::UserWebhook, &parked.content, at)
                            .await?;
                        drain.report.parked_again += 1;
                    }
                    Err(e) => {
                        tracing::warn!(event = %parked.id, error = %e, "left parked for the next drain");
                        drain.report.left += 1;
                    }
                }
            }
        }
        Ok(drain.finish(NAME))
    }
}

impl<S: UserWebhooks + WebhookLog + Parking + Sync> super::serving::ChannelFunction
    for UserWebhookChannel<'_, S>
{
    async fn batch(&self, batch: KafkaEvent, deadline: tokio::time::Instant) -> KafkaBatchResponse {
        consume(
            &UserWebhookConsumer {
                channel: self,
                deadline,
            },
            &batch,
            deadline,
        )
        .await
    }

    async fn drain(
        &self,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Result<DrainReport, TableError> {
        UserWebhookChannel::drain(self, now, deadline).await
    }
}

/// The MSK side: [`UserWebhookChannel::go_through`] per batch, with the deadline of the
/// invocation; only a store failure is reported (and redelivered).
pub struct UserWebhookConsumer<'a, S> {
    pub channel: &'a UserWebhookChannel<'a, S>,
    pub deadline: tokio::time::Instant,
}

impl<S: UserWebhooks + WebhookLog + Parking + Sync> EventConsumer for UserWebhookConsumer<'_, S> {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Reminders on `todo.reminders`, every task event on `todo.task.events`.
    fn handles(&self, _: EventType) -> bool {
        true
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        let events: Vec<&EventEnvelope> = events.iter().collect();
        match self.channel.go_through(&events, self.deadline).await {
            None => Ok(()),
            Some((applied, reason)) => Err(Stopped { applied, reason }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by an outside tester: a webhook whose name resolves only to inside addresses was
    /// logged `retrying` for a day.
    #[tokio::test]
    async fn a_name_that_resolves_only_inside_is_a_final_failure_saying_so() {
        let error = client()
            .unwrap()
            .post("https://localhost/hook")
            .send()
            .await
            .unwrap_err();
        match unanswered(error) {
            SendError::Permanent(reason) => assert_eq!(
                reason,
                "webhook not reached: localhost resolves only to addresses that are not public \
                 (private, loopback, link-local or reserved)"
            ),
            other => panic!("{other:?}"),
        }
        // A name that does not resolve at all may be DNS failing for a moment: retried.
        let error = client()
            .unwrap()
            .post("https://no-such-name.invalid/hook")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(unanswered(error), SendError::Transient(_)));
    }

    #[test]
    fn the_backoff_doubles_from_a_minute_to_an_hour() {
        let backoff = |a| BACKOFF.delay(a);
        let minutes: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX).as_secs(), 3_600);
    }
}
