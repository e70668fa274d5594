//! The delivery engine every sending channel shares: a reminder's destinations on a channel,
//! each sent at most once it succeeded or failed for good, failures recorded with their backoff,
//! quiet hours parking it for later. Nothing here knows Lambda: `serving` runs it as a function.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume};
use todo_lambda::retry::Backoff;
use todo_lambda::table::TableError;
use todo_schema::event::EventType;
use todo_schema::notification::{Channel, Delivery, DeliveryStatus, Notification};
use todo_schema::quiet_hours::QuietHours;
use todo_schema::{EventEnvelope, Timestamp};

use crate::store::{Deliveries, Parking};

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying: the far end is down, slow or throttling.
    Transient(String),
    /// Worth retrying, not before this long (the far end's `Retry-After`).
    Later(String, std::time::Duration),
    /// Refused for good (a 4xx): retrying cannot help.
    Permanent(String),
}

/// Where a notification goes on a channel, and when its owner wants nothing from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Destinations {
    /// None when its owner has the channel off.
    pub to: Vec<String>,
    /// The owner's quiet hours, on a channel that honours them.
    pub quiet: Option<QuietHours>,
}

impl Destinations {
    /// These destinations, at any hour.
    pub fn always(to: Vec<String>) -> Self {
        Self { to, quiet: None }
    }
}

/// One channel's way of sending a notification.
pub trait Sender {
    const CHANNEL: Channel;
    /// The channel function's name in its metrics (the template's alarms use it).
    const NAME: &'static str;

    /// Where this notification goes on this channel; an error is the store's (the settings
    /// could not be read).
    fn destinations(
        &self,
        n: &Notification,
    ) -> impl Future<Output = Result<Destinations, TableError>> + Send;

    /// What a destination shares a failure with: an outage there holds every destination
    /// behind it for the rest of a batch (not tried again), and nothing else. By default the
    /// destination itself (one push device); the whole service where one service serves all
    /// (SES, the operator's webhook).
    fn far_end(&self, destination: &str) -> String {
        destination.to_string()
    }

    /// Sends it to one of those destinations.
    fn send(
        &self,
        n: &Notification,
        destination: &str,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// A channel's consumer: each reminder sent at most once per destination once it succeeded or
/// failed for good.
///
/// One far end that fails holds only itself: the whole batch is gone through, every other
/// destination served, and only then is the first unfinished record reported (the mapping
/// redelivers from it; what was done is skipped as settled). Within a batch a far end that
/// failed is not tried again, and the batch ends by waiting out the earliest retry time
/// (the backoff: a Kafka mapping redelivers at once).
pub struct ChannelConsumer<'a, S, D> {
    pub store: &'a S,
    pub sender: &'a D,
    /// The longest wait between tries of a failing far end (the backoff doubles from a second
    /// up to it; `CHANNEL_MAX_BACKOFF_SECONDS`, default [`MAX_BACKOFF`]).
    pub max_backoff: Duration,
}

/// The default longest wait between tries of a failing far end.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Handles one MSK batch on `sender`'s channel, taking no new partition past `deadline`.
pub async fn deliver_batch<S: Deliveries + Parking + Sync, D: Sender + Sync>(
    store: &S,
    sender: &D,
    batch: KafkaEvent,
    deadline: tokio::time::Instant,
) -> KafkaBatchResponse {
    let consumer = ChannelConsumer {
        store,
        sender,
        max_backoff: MAX_BACKOFF,
    };
    consume(&consumer, &batch, deadline).await
}

/// Where one reminder stands on a channel after going through it.
pub(super) enum Outcome {
    /// Every destination delivered or failed for good (or none wanted).
    Settled,
    /// A destination is not done yet.
    Pending(Pending),
    /// Held back by its owner's quiet hours: parked until they end.
    Deferred,
}

/// A destination not done yet: why, and not before when.
pub(super) struct Pending {
    pub(super) reason: String,
    pub(super) retry_at: Option<Timestamp>,
}

impl<S: Deliveries + Parking + Sync, D: Sender + Sync> EventConsumer for ChannelConsumer<'_, S, D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn handles(&self, kind: EventType) -> bool {
        kind == EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        let mut first_pending: Option<(usize, String)> = None;
        let mut earliest: Option<Timestamp> = None;
        let mut failed_far_ends = HashSet::new();
        for (i, event) in events.iter().enumerate() {
            let Some(n) = Notification::of(event) else {
                continue;
            };
            match self.reminder(&n, &mut failed_far_ends).await {
                // The store itself failed: stop here (or at an earlier unfinished record).
                Err(e) => {
                    let (applied, reason) = first_pending.unwrap_or((i, e.to_string()));
                    return Err(Stopped { applied, reason });
                }
                Ok(Outcome::Pending(p)) => {
                    first_pending.get_or_insert((i, p.reason));
                    earliest = match (earliest, p.retry_at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Ok(Outcome::Settled | Outcome::Deferred) => {}
            }
        }
        let Some((applied, reason)) = first_pending else {
            return Ok(());
        };
        if let Some(at) = earliest {
            let wait = (at.as_datetime() - Timestamp::now().as_datetime())
                .to_std()
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
        }
        Err(Stopped { applied, reason })
    }
}

impl<S: Deliveries + Parking + Sync, D: Sender + Sync> ChannelConsumer<'_, S, D> {
    /// One reminder on this channel: every current destination (or, in its owner's quiet
    /// hours, none yet: parked until they end), and any retry left pending for a destination
    /// that is no longer one (the owner changed their address, turned the channel off,
    /// removed the device) closed as cancelled.
    pub(super) async fn reminder(
        &self,
        n: &Notification,
        failed_far_ends: &mut HashSet<String>,
    ) -> Result<Outcome, TableError> {
        let Destinations { to: wanted, quiet } = self.sender.destinations(n).await?;
        let recorded = self.store.deliveries(n, D::CHANNEL).await?;
        let stale = recorded
            .iter()
            .filter(|d| !d.status.is_final() && !wanted.contains(&d.destination));
        self.close(n, stale, "cancelled: no longer a destination of its owner")
            .await?;
        let now = Timestamp::now();
        if let Some(until) = quiet.and_then(|q| q.until(now)) {
            return Ok(if self.defer(n, &wanted, &recorded, until, now).await? {
                Outcome::Deferred
            } else {
                Outcome::Settled
            });
        }
        let mut pending: Option<Pending> = None;
        for destination in &wanted {
            let previous = recorded.iter().find(|d| &d.destination == destination);
            if let Some(p) = self
                .deliver(n, destination, previous, failed_far_ends)
                .await?
            {
                pending = Some(match pending {
                    Some(before) if before.retry_at <= p.retry_at => before,
                    _ => p,
                });
            }
        }
        Ok(pending.map_or(Outcome::Settled, Outcome::Pending))
    }

    /// Records `deliveries` of `n` as failed for good, for `reason`.
    async fn close<'d>(
        &self,
        n: &Notification,
        deliveries: impl Iterator<Item = &'d Delivery>,
        reason: &str,
    ) -> Result<(), TableError> {
        for delivery in deliveries {
            let mut closed = delivery.clone();
            closed.status = DeliveryStatus::Failed;
            closed.last_error = Some(reason.to_string());
            closed.next_attempt_at = None;
            closed.updated_at = Timestamp::now();
            self.store.record(n, &closed).await?;
        }
        Ok(())
    }

    /// Closes every delivery of `n` on this channel not settled yet, for `reason` (a parked
    /// reminder that is too old to send).
    pub(super) async fn give_up(&self, n: &Notification, reason: &str) -> Result<(), TableError> {
        let recorded = self.store.deliveries(n, D::CHANNEL).await?;
        self.close(n, recorded.iter().filter(|d| !d.status.is_final()), reason)
            .await
    }

    /// Holds back every unsettled destination until `until`: parked first (so a crash between
    /// the two writes sends it then rather than never), then each recorded as deferred.
    /// `false` when nothing was left to send.
    async fn defer(
        &self,
        n: &Notification,
        wanted: &[String],
        recorded: &[Delivery],
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, TableError> {
        let unsettled: Vec<(&String, Option<&Delivery>)> = wanted
            .iter()
            .map(|d| (d, recorded.iter().find(|r| &r.destination == d)))
            .filter(|(_, previous)| !previous.is_some_and(|p| p.status.is_final()))
            .collect();
        if unsettled.is_empty() {
            return Ok(false);
        }
        let mut content = n.clone();
        content.deliveries.clear();
        content.read_at = None;
        self.store.park(D::CHANNEL, &content, until).await?;
        for (destination, previous) in unsettled {
            if previous.is_some_and(|p| {
                p.status == DeliveryStatus::Deferred && p.next_attempt_at == Some(until)
            }) {
                continue;
            }
            let deferred = Delivery::deferred(D::CHANNEL, destination, previous, until, now);
            self.store.record(n, &deferred).await?;
        }
        Ok(true)
    }

    /// One destination: skipped when settled; left pending when its retry is not due yet or
    /// its far end failed earlier in this batch; otherwise sent, and the attempt recorded. A
    /// permanent failure is only recorded.
    async fn deliver(
        &self,
        n: &Notification,
        destination: &str,
        previous: Option<&Delivery>,
        failed_far_ends: &mut HashSet<String>,
    ) -> Result<Option<Pending>, TableError> {
        if previous.is_some_and(|p| p.status.is_final()) {
            return Ok(None);
        }
        let now = Timestamp::now();
        // A retry waits out its backoff; a deferred one is due once quiet hours are over.
        if let Some(p) = previous.filter(|p| {
            p.status == DeliveryStatus::Retrying && p.next_attempt_at.is_some_and(|t| t > now)
        }) {
            return Ok(Some(Pending {
                reason: p
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "waiting to retry".into()),
                retry_at: p.next_attempt_at,
            }));
        }
        let far_end = self.sender.far_end(destination);
        if failed_far_ends.contains(&far_end) {
            return Ok(Some(Pending {
                reason: format!("held: {far_end} failed earlier in this batch"),
                retry_at: None,
            }));
        }
        let (outcome, transient, after) = match self.sender.send(n, destination).await {
            Ok(()) => (Ok(()), None, None),
            Err(SendError::Transient(r)) => {
                (Err((DeliveryStatus::Retrying, r.clone())), Some(r), None)
            }
            Err(SendError::Later(r, after)) => (
                Err((DeliveryStatus::Retrying, r.clone())),
                Some(r),
                Some(after),
            ),
            Err(SendError::Permanent(r)) => (Err((DeliveryStatus::Failed, r)), None, None),
        };
        let now = Timestamp::now();
        let failure = outcome.as_ref().err().map(|(_, reason)| reason.clone());
        let mut delivery = Delivery::attempt(D::CHANNEL, destination, previous, outcome, now);
        if transient.is_some() {
            let wait = BACKOFF
                .at_most(self.max_backoff)
                .delay_honouring(delivery.attempts, after);
            delivery.next_attempt_at = Some(now.after(wait));
        }
        // Said when it happens (the batch may wait out a retry before it ends), so an operator
        // sees a far end failing at once; the destination (an address, a device's push URL)
        // stays out of the log.
        if let Some(reason) = failure {
            tracing::warn!(
                notification = %n.id,
                channel = ?D::CHANNEL,
                %reason,
                attempts = delivery.attempts,
                retry_at = %delivery.next_attempt_at.map(|t| t.to_string()).unwrap_or_default(),
                "send failed"
            );
        }
        self.store.record(n, &delivery).await?;
        Ok(transient.map(|reason| {
            failed_far_ends.insert(far_end);
            Pending {
                reason,
                retry_at: delivery.next_attempt_at,
            }
        }))
    }
}

/// How long to wait before attempt `attempts + 1` after `attempts` transient failures: 1 s,
/// doubling, at most [`MAX_BACKOFF`] (or the consumer's `max_backoff`).
const BACKOFF: Backoff = Backoff::doubling(Duration::from_secs(1), MAX_BACKOFF);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_a_second_to_a_minute() {
        let backoff = |a, max| BACKOFF.at_most(max).delay(a);
        let secs: Vec<u64> = (1..=9).map(|a| backoff(a, MAX_BACKOFF).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(0, MAX_BACKOFF).as_secs(), 1);
        assert_eq!(backoff(u32::MAX, MAX_BACKOFF).as_secs(), 60);
        assert_eq!(backoff(5, Duration::from_secs(2)).as_secs(), 2);
    }
}
