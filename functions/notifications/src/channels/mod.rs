//! The reminder channels. Each is its own Kafka-triggered function with its own consumer group
//! on `todo.reminders`, so a channel that is down or slow delays only itself, and a redelivery
//! to one channel never re-sends on another.
//!
//! - `in_app`: places the notification in the user's inbox (the unread feed).
//! - `webhook`: a signed POST to the operator's webhook.
//! - `email`: an e-mail through Amazon SES to the address in the user's settings.
//! - `push`: Web Push to every device the user subscribed.
//!
//! Every channel but the inbox sends through a [`Sender`] and records each attempt on the
//! notification (see `store`): a delivery that is recorded as delivered or failed for good is
//! never sent again; a transient failure is recorded and reported, so the mapping retries the
//! record (and dead-letters it after its retries) without holding any other channel.
//!
//! A Kafka mapping retries a reported record at once, so the backoff is the channel's: a
//! retried delivery waits, inside the invocation, until the time its last attempt set (1 s
//! after the first failure, doubling up to a minute, or the far end's `Retry-After` when
//! longer). An outage of an hour costs a far end about seventy attempts per stuck partition,
//! not one every few hundred milliseconds; an invocation whose deadline comes first reports
//! the record again and the next one waits out the rest.

pub mod email;
mod http_delivery;
pub mod in_app;
pub mod push;
pub mod webhook;

use std::future::Future;

use todo_lambda::kafka::{EventConsumer, Stopped};
use todo_schema::event::EventType;
use todo_schema::notification::{Channel, Delivery, DeliveryStatus, Notification};
use todo_schema::{EventEnvelope, Timestamp};

use crate::store::Deliveries;

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

/// One channel's way of sending a notification.
pub trait Sender {
    const CHANNEL: Channel;

    /// Where this notification goes on this channel (none when its owner has the channel off);
    /// an error is transient (the settings could not be read).
    fn destinations(
        &self,
        n: &Notification,
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send;

    /// Sends it to one of those destinations.
    fn send(
        &self,
        n: &Notification,
        destination: &str,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// A channel's consumer: each reminder sent at most once per destination once it succeeded or
/// failed for good.
pub struct ChannelConsumer<'a, S, D> {
    /// The function's name in its metrics.
    pub name: &'static str,
    pub store: &'a S,
    pub sender: &'a D,
}

impl<S: Deliveries + Sync, D: Sender + Sync> EventConsumer for ChannelConsumer<'_, S, D> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn handles(&self, kind: EventType) -> bool {
        kind == EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        for (i, event) in events.iter().enumerate() {
            let Some(n) = Notification::of(event) else {
                continue;
            };
            let stop = |reason: String| Stopped { applied: i, reason };
            for destination in self.sender.destinations(&n).await.map_err(stop)? {
                self.deliver(&n, &destination).await.map_err(stop)?;
            }
        }
        Ok(())
    }
}

impl<S: Deliveries + Sync, D: Sender + Sync> ChannelConsumer<'_, S, D> {
    /// One destination: skipped when already settled; otherwise sent, and the attempt
    /// recorded. A transient failure is returned (the record is retried); a permanent one is
    /// only recorded.
    async fn deliver(&self, n: &Notification, destination: &str) -> Result<(), String> {
        let previous = self
            .store
            .delivery(n, D::CHANNEL, destination)
            .await
            .map_err(|e| e.to_string())?;
        if previous.as_ref().is_some_and(|p| p.status.is_final()) {
            return Ok(());
        }
        if let Some(next) = previous.as_ref().and_then(|p| p.next_attempt_at) {
            let wait = (next.as_datetime() - Timestamp::now().as_datetime())
                .to_std()
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
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
        let mut delivery =
            Delivery::attempt(D::CHANNEL, destination, previous.as_ref(), outcome, now);
        if transient.is_some() {
            let wait = backoff(delivery.attempts).max(after.unwrap_or_default());
            delivery.next_attempt_at = chrono::Duration::from_std(wait)
                .ok()
                .and_then(|w| Timestamp::from_datetime(now.as_datetime() + w).ok());
        }
        self.store
            .record(n, &delivery)
            .await
            .map_err(|e| e.to_string())?;
        transient.map_or(Ok(()), Err)
    }
}

/// How long to wait before attempt `attempts + 1` after `attempts` transient failures: 1 s,
/// doubling, at most a minute.
fn backoff(attempts: u32) -> std::time::Duration {
    let exponent = attempts.saturating_sub(1).min(6);
    std::time::Duration::from_secs(1 << exponent).min(std::time::Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_a_second_to_a_minute() {
        let secs: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(0).as_secs(), 1);
        assert_eq!(backoff(u32::MAX).as_secs(), 60);
    }
}
