//! The reminder notification: what the inbox holds and what a webhook receives.

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
            }),
            _ => None,
        }
    }
}
