//! The audit log's entry: who did what to which task, when, and the state before and after.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{EventEnvelope, EventPayload};
use crate::task::{Task, TaskId};
use crate::{Actor, Timestamp};

/// One audited change, as the history and audit APIs return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The event's id; one entry per event, however often it is delivered.
    pub event_id: Uuid,
    /// `task.created`, `task.updated`, ...
    pub operation: String,
    pub actor: Actor,
    pub time: Timestamp,
    pub task_id: TaskId,
    /// The owner of the task, whose history this is.
    pub owner: String,
    /// The task version the change produced (a delete: one past the last version). A task's
    /// history is in this order, whatever the clocks said.
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Task>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Task>,
}

impl AuditEntry {
    /// The entry for an event.
    pub fn of(event: &EventEnvelope) -> Self {
        let (actor, before, after) = match &event.payload {
            EventPayload::TaskCreated { actor, task } => (actor, None, Some(task)),
            EventPayload::TaskUpdated {
                actor,
                before,
                task,
            }
            | EventPayload::TaskCompleted {
                actor,
                before,
                task,
            }
            | EventPayload::TaskReopened {
                actor,
                before,
                task,
            } => (actor, Some(before), Some(task)),
            EventPayload::TaskDeleted { actor, before } => (actor, Some(before), None),
            EventPayload::ReminderDue { actor, task, .. } => (actor, None, Some(task)),
        };
        let owner = after
            .or(before)
            .map(|t| t.owner.clone())
            .unwrap_or_default();
        let version = match (after, before) {
            (Some(after), _) => after.version,
            (None, Some(before)) => before.version + 1,
            (None, None) => 0,
        };
        Self {
            event_id: event.id,
            operation: event.payload.event_type().as_str().to_string(),
            actor: actor.clone(),
            time: event.time,
            task_id: event.subject,
            owner,
            version,
            before: before.cloned(),
            after: after.cloned(),
        }
    }
}
