//! The reminder channels. Each is its own Kafka-triggered function with its own consumer group
//! on `todo.reminders`, so a channel that is down or slow delays only itself, and a redelivery
//! to one channel never re-sends on another.
//!
//! - `in_app`: places the notification in the user's inbox (the unread feed).
//! - `webhook`: a signed POST to the operator's webhook.
//!
//! Every channel but the inbox sends through a [`Sender`] and records each attempt on the
//! notification (see `store`): a delivery that is recorded as delivered or failed for good is
//! never sent again; a transient failure is recorded and reported, so the mapping retries the
//! record (and dead-letters it after its retries) without holding any other channel.

pub mod in_app;
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
    /// Refused for good (a 4xx): retrying cannot help.
    Permanent(String),
}

/// One channel's way of sending a notification to one destination.
pub trait Sender {
    const CHANNEL: Channel;

    /// Which destination this sender delivers to (recorded with each attempt).
    fn destination(&self) -> &str;

    fn send(&self, n: &Notification) -> impl Future<Output = Result<(), SendError>> + Send;
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
        let destination = self.sender.destination();
        for (i, event) in events.iter().enumerate() {
            let Some(n) = Notification::of(event) else {
                continue;
            };
            let stop = |reason: String| Stopped { applied: i, reason };
            let previous = self
                .store
                .delivery(&n, D::CHANNEL, destination)
                .await
                .map_err(|e| stop(e.to_string()))?;
            if previous.as_ref().is_some_and(|p| p.status.is_final()) {
                continue;
            }
            let outcome = self.sender.send(&n).await;
            let transient = match &outcome {
                Err(SendError::Transient(reason)) => Some(reason.clone()),
                _ => None,
            };
            let outcome = outcome.map_err(|e| match e {
                SendError::Transient(r) => (DeliveryStatus::Retrying, r),
                SendError::Permanent(r) => (DeliveryStatus::Failed, r),
            });
            let delivery = Delivery::attempt(
                D::CHANNEL,
                destination,
                previous.as_ref(),
                outcome,
                Timestamp::now(),
            );
            self.store
                .record(&n, &delivery)
                .await
                .map_err(|e| stop(e.to_string()))?;
            if let Some(reason) = transient {
                return Err(stop(reason));
            }
        }
        Ok(())
    }
}
