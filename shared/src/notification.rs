//! The reminder notification: what the inbox holds and what a webhook receives, and each
//! channel's delivery of it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;
use crate::event::{EventEnvelope, EventPayload};
use crate::task::{Due, TaskId};

/// A reminder delivered to a user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The `reminder.due` event's id: one notification per event.
    pub id: Uuid,
    pub owner: String,
    pub task_id: TaskId,
    /// The task's title when the reminder fired.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    /// When the reminder was scheduled for.
    pub reminder_at: Timestamp,
    /// Whether it was delivered later than the sweep's grace period.
    pub late: bool,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<Timestamp>,
    /// What each channel did with it, so a user sees what reached them where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}

/// A way a reminder reaches a person. Each channel is its own Kafka-triggered function with its
/// own consumer group on `todo.reminders`, so one that is down or slow delays only itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The in-app inbox (`GET /notifications?unread=true`).
    InApp,
    /// A signed POST to a webhook.
    Webhook,
    /// An e-mail through Amazon SES, to the address in the user's settings.
    Email,
    /// Web Push to each device the user subscribed.
    Push,
    /// A signed POST to each webhook the user registered (`POST /webhooks`): its outcomes are
    /// in that webhook's log (`GET /webhooks/{id}/deliveries`), not on the notification.
    UserWebhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Webhook => "webhook",
            Channel::Email => "email",
            Channel::Push => "push",
            Channel::UserWebhook => "user_webhook",
        }
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by the far end (or placed in the inbox).
    Delivered,
    /// Failed for now; the channel's mapping retries it, and dead-letters it after its retries.
    Retrying,
    /// Refused for good (a 4xx from a webhook, an address SES rejects): recorded, never retried.
    Failed,
    /// Held back by its owner's quiet hours until `next_attempt_at`, then sent (e-mail and Web
    /// Push only).
    Deferred,
}

impl DeliveryStatus {
    /// Whether nothing more will be attempted.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryStatus::Delivered | DeliveryStatus::Failed)
    }
}

/// One channel's delivery of one notification to one destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel: Channel,
    /// Which destination of the channel (`operator` for the operator-wide webhook).
    pub destination: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// While retrying: not before this (the channel's backoff, or the far end's Retry-After).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

impl Delivery {
    /// The next attempt's record after `previous` (if any), with this outcome.
    pub fn attempt(
        channel: Channel,
        destination: &str,
        previous: Option<&Delivery>,
        outcome: Result<(), (DeliveryStatus, String)>,
        at: Timestamp,
    ) -> Self {
        let attempts = previous.map_or(0, |p| p.attempts).saturating_add(1);
        let (status, delivered_at, last_error) = match outcome {
            Ok(()) => (DeliveryStatus::Delivered, Some(at), None),
            Err((status, error)) => (status, None, Some(error)),
        };
        Self {
            channel,
            destination: destination.to_string(),
            status,
            attempts,
            delivered_at,
            last_error,
            next_attempt_at: None,
            updated_at: at,
        }
    }

    /// The record of a delivery held back until `until` (its attempts so far kept).
    pub fn deferred(
        channel: Channel,
        destination: &str,
        previous: Option<&Delivery>,
        until: Timestamp,
        at: Timestamp,
    ) -> Self {
        Self {
            channel,
            destination: destination.to_string(),
            status: DeliveryStatus::Deferred,
            attempts: previous.map_or(0, |p| p.attempts),
            delivered_at: None,
            last_error: previous.and_then(|p| p.last_error.clone()),
            next_attempt_at: Some(until),
            updated_at: at,
        }
    }
}

impl Notification {
    /// The notification for a `reminder.due` event; `None` for any other event.
    pub fn of(event: &EventEnvelope) -> Option<Self> {
        match &event.payload {
            EventPayload::ReminderDue {
                task,
                reminder_at,
                late,
                ..
            } => Some(Self {
                id: event.id,
                owner: task.owner.clone(),
                task_id: task.id,
                title: task.title.clone(),
                due: task.due,
                reminder_at: *reminder_at,
                late: *late,
                created_at: event.time,
                read_at: None,
                deliveries: Vec::new(),
            }),
            _ => None,
        }
    }
}
