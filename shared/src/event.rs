//! The task event: one versioned envelope for every change, in CloudEvents 1.0 structured JSON.
//!
//! Every committed change to a task becomes exactly one event. The envelope carries the routing
//! facts (`type`, `subject` = task id, `id` for idempotency); `data` carries who did it and the
//! task before and after. Consumers must ignore unknown fields and skip unknown types: use
//! [`decode`] to get that behaviour for free.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::task::{Task, TaskId};
use crate::time::Timestamp;

/// Version of the `data` schema; consumers refuse versions they do not know.
pub const SCHEMA_VERSION: u32 = 1;
/// The CloudEvents `source` of every task event.
pub const SOURCE: &str = "serverless-todo/tasks";
/// Kafka topic for task lifecycle events.
pub const TOPIC_TASK_EVENTS: &str = "todo.task.events";
/// Kafka topic for reminder.due events.
pub const TOPIC_REMINDERS: &str = "todo.reminders";
/// Kafka topic for records that exhausted their retries.
pub const TOPIC_DEAD_LETTER: &str = "todo.dead.letter";

/// Namespace for event ids derived from other facts (deletes, which cannot record an id).
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_4b0a_9c3e_4f57_8a21_5e0c_d7b9_2f44);

/// Who caused an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    /// An end user, by the `sub` claim of their token.
    User { id: String },
    /// A part of the system acting on its own (the reminder sweep).
    System { id: String },
}

/// Every event type, with its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskReopened,
    TaskDeleted,
    ReminderDue,
}

impl EventType {
    /// Every type, for exhaustive checks.
    pub const ALL: [EventType; 6] = [
        EventType::TaskCreated,
        EventType::TaskUpdated,
        EventType::TaskCompleted,
        EventType::TaskReopened,
        EventType::TaskDeleted,
        EventType::ReminderDue,
    ];

    /// The CloudEvents `type` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::TaskCreated => "task.created",
            EventType::TaskUpdated => "task.updated",
            EventType::TaskCompleted => "task.completed",
            EventType::TaskReopened => "task.reopened",
            EventType::TaskDeleted => "task.deleted",
            EventType::ReminderDue => "reminder.due",
        }
    }

    /// The type with this wire name, if it is one we know.
    pub fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The Kafka topic events of this type go to.
    pub fn topic(&self) -> &'static str {
        match self {
            EventType::ReminderDue => TOPIC_REMINDERS,
            _ => TOPIC_TASK_EVENTS,
        }
    }
}

/// The event-specific part: `type` and `data` of the envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventPayload {
    #[serde(rename = "task.created")]
    TaskCreated { actor: Actor, task: Task },
    #[serde(rename = "task.updated")]
    TaskUpdated {
        actor: Actor,
        before: Task,
        task: Task,
    },
    #[serde(rename = "task.completed")]
    TaskCompleted {
        actor: Actor,
        before: Task,
        task: Task,
    },
    #[serde(rename = "task.reopened")]
    TaskReopened {
        actor: Actor,
        before: Task,
        task: Task,
    },
    #[serde(rename = "task.deleted")]
    TaskDeleted { actor: Actor, before: Task },
    #[serde(rename = "reminder.due")]
    ReminderDue {
        actor: Actor,
        task: Task,
        /// The instant the reminder was scheduled for.
        reminder_at: Timestamp,
        /// Whether it was delivered later than its grace period allows.
        late: bool,
    },
}

impl EventPayload {
    /// Whose task this event is about (the one it is delivered to).
    pub fn owner(&self) -> &str {
        match self {
            EventPayload::TaskDeleted { before, .. } => &before.owner,
            EventPayload::TaskCreated { task, .. }
            | EventPayload::TaskUpdated { task, .. }
            | EventPayload::TaskCompleted { task, .. }
            | EventPayload::TaskReopened { task, .. }
            | EventPayload::ReminderDue { task, .. } => &task.owner,
        }
    }

    /// The payload's event type.
    pub fn event_type(&self) -> EventType {
        match self {
            EventPayload::TaskCreated { .. } => EventType::TaskCreated,
            EventPayload::TaskUpdated { .. } => EventType::TaskUpdated,
            EventPayload::TaskCompleted { .. } => EventType::TaskCompleted,
            EventPayload::TaskReopened { .. } => EventType::TaskReopened,
            EventPayload::TaskDeleted { .. } => EventType::TaskDeleted,
            EventPayload::ReminderDue { .. } => EventType::ReminderDue,
        }
    }
}

/// A CloudEvents 1.0 structured-mode event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique per event; consumers deduplicate on it.
    pub id: Uuid,
    pub source: String,
    /// The task id; also the Kafka key, so one task's events stay in order.
    pub subject: TaskId,
    /// When the change committed.
    pub time: Timestamp,
    pub datacontenttype: String,
    /// CloudEvents extension attribute: the version of `data`'s schema.
    pub schemaversion: u32,
    #[serde(flatten)]
    pub payload: EventPayload,
}

impl EventEnvelope {
    /// Wraps a payload in an envelope with the current schema version.
    pub fn new(id: Uuid, subject: TaskId, time: Timestamp, payload: EventPayload) -> Self {
        Self {
            specversion: "1.0".to_string(),
            id,
            source: SOURCE.to_string(),
            subject,
            time,
            datacontenttype: "application/json".to_string(),
            schemaversion: SCHEMA_VERSION,
            payload,
        }
    }
}

/// The id of the event for deleting a task at `last_version`.
///
/// A delete removes the item, so it cannot record an event id on it the way other changes do.
/// The id is instead derived from what the removed item's last image holds, so every reader of
/// the same stream record (a retry, a replay) arrives at the same id.
pub fn deletion_event_id(task: TaskId, last_version: u64) -> Uuid {
    Uuid::new_v5(
        &DERIVED_ID_NAMESPACE,
        format!("task.deleted/{task}/{last_version}").as_bytes(),
    )
}

/// What a consumer gets from a record's bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// An event this version of the contract knows.
    Known(Box<EventEnvelope>),
    /// A well-formed event of a type this consumer does not know: skip it.
    UnknownType { id: String, event_type: String },
}

/// Why bytes are not an event; such a record belongs in the dead-letter topic.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JSON event envelope: {0}")]
    NotAnEnvelope(String),
    #[error("unsupported specversion {0:?}")]
    SpecVersion(String),
    #[error("unsupported schemaversion {0}")]
    SchemaVersion(u64),
    #[error("malformed {event_type} event: {reason}")]
    Malformed { event_type: String, reason: String },
}

#[derive(Deserialize)]
struct Head {
    specversion: String,
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    schemaversion: u64,
}

/// Decodes a record value, skipping unknown types and refusing unknown schema versions.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotAnEnvelope(e.to_string()))?;
    if head.specversion != "1.0" {
        return Err(DecodeError::SpecVersion(head.specversion));
    }
    if head.schemaversion != u64::from(SCHEMA_VERSION) {
        return Err(DecodeError::SchemaVersion(head.schemaversion));
    }
    if EventType::from_wire(&head.event_type).is_none() {
        return Ok(Decoded::UnknownType {
            id: head.id,
            event_type: head.event_type,
        });
    }
    serde_json::from_slice::<EventEnvelope>(bytes)
        .map(|e| Decoded::Known(Box::new(e)))
        .map_err(|e| DecodeError::Malformed {
            event_type: head.event_type,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Priority, Status};
    use serde_json::json;

    const TASK_ID: &str = "0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e";
    const EVENT_ID: &str = "0192f0c4-7b7f-7000-8000-000000000001";

    fn task(version: u64, status: Status) -> Task {
        Task {
            id: TASK_ID.parse().unwrap(),
            owner: "user-1".into(),
            title: "Water plants".into(),
            notes: None,
            status,
            priority: Priority::Low,
            tags: vec![],
            due: None,
            reminders: vec![],
            recurrence: None,
            series_id: None,
            next_id: None,
            created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            updated_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            completed_at: None,
            version,
        }
    }

    fn task_json(version: u64, status: &str) -> serde_json::Value {
        json!({
            "id": TASK_ID, "owner": "user-1", "title": "Water plants", "status": status,
            "priority": "low", "tags": [], "reminders": [],
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
            "version": version
        })
    }

    fn envelope(payload: EventPayload) -> EventEnvelope {
        EventEnvelope::new(
            EVENT_ID.parse().unwrap(),
            TASK_ID.parse().unwrap(),
            "2026-01-01T00:00:01Z".parse().unwrap(),
            payload,
        )
    }

    fn user() -> Actor {
        Actor::User {
            id: "user-1".into(),
        }
    }

    /// Pins the wire format of every event type: a change here is a contract change.
    #[test]
    fn wire_format_of_every_event_type_is_pinned() {
        let cases = [
            (
                EventPayload::TaskCreated {
                    actor: user(),
                    task: task(1, Status::Open),
                },
                "task.created",
                json!({"actor": {"kind": "user", "id": "user-1"}, "task": task_json(1, "open")}),
            ),
            (
                EventPayload::TaskUpdated {
                    actor: user(),
                    before: task(1, Status::Open),
                    task: task(2, Status::Open),
                },
                "task.updated",
                json!({"actor": {"kind": "user", "id": "user-1"},
                       "before": task_json(1, "open"), "task": task_json(2, "open")}),
            ),
            (
                EventPayload::TaskCompleted {
                    actor: user(),
                    before: task(1, Status::Open),
                    task: task(2, Status::Completed),
                },
                "task.completed",
                json!({"actor": {"kind": "user", "id": "user-1"},
                       "before": task_json(1, "open"), "task": task_json(2, "completed")}),
            ),
            (
                EventPayload::TaskReopened {
                    actor: user(),
                    before: task(2, Status::Completed),
                    task: task(3, Status::Open),
                },
                "task.reopened",
                json!({"actor": {"kind": "user", "id": "user-1"},
                       "before": task_json(2, "completed"), "task": task_json(3, "open")}),
            ),
            (
                EventPayload::TaskDeleted {
                    actor: user(),
                    before: task(3, Status::Open),
                },
                "task.deleted",
                json!({"actor": {"kind": "user", "id": "user-1"}, "before": task_json(3, "open")}),
            ),
            (
                EventPayload::ReminderDue {
                    actor: Actor::System {
                        id: "reminder-sweep".into(),
                    },
                    task: task(4, Status::Open),
                    reminder_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                    late: false,
                },
                "reminder.due",
                json!({"actor": {"kind": "system", "id": "reminder-sweep"}, "task": task_json(4, "open"),
                       "reminder_at": "2026-01-01T00:00:00.000Z", "late": false}),
            ),
        ];
        assert_eq!(cases.len(), EventType::ALL.len());
        for (payload, type_name, data) in cases {
            assert_eq!(payload.event_type().as_str(), type_name);
            let event = envelope(payload);
            let wire = serde_json::to_value(&event).unwrap();
            assert_eq!(
                wire,
                json!({
                    "specversion": "1.0",
                    "id": EVENT_ID,
                    "source": "serverless-todo/tasks",
                    "subject": TASK_ID,
                    "time": "2026-01-01T00:00:01.000Z",
                    "datacontenttype": "application/json",
                    "schemaversion": 1,
                    "type": type_name,
                    "data": data
                }),
                "{type_name}"
            );
            let bytes = serde_json::to_vec(&event).unwrap();
            assert_eq!(decode(&bytes).unwrap(), Decoded::Known(Box::new(event)));
        }
    }

    #[test]
    fn unknown_types_are_skipped_and_unknown_fields_ignored() {
        let mut wire = serde_json::to_value(envelope(EventPayload::TaskCreated {
            actor: user(),
            task: task(1, Status::Open),
        }))
        .unwrap();
        wire["traceparent"] = json!("00-abc");
        wire["data"]["task"]["colour"] = json!("blue");
        assert!(matches!(
            decode(&serde_json::to_vec(&wire).unwrap()),
            Ok(Decoded::Known(_))
        ));
        wire["type"] = json!("task.archived");
        assert_eq!(
            decode(&serde_json::to_vec(&wire).unwrap()).unwrap(),
            Decoded::UnknownType {
                id: EVENT_ID.into(),
                event_type: "task.archived".into()
            }
        );
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(matches!(
            decode(b"not json"),
            Err(DecodeError::NotAnEnvelope(_))
        ));
        let mut wire = serde_json::to_value(envelope(EventPayload::TaskDeleted {
            actor: user(),
            before: task(1, Status::Open),
        }))
        .unwrap();
        wire["schemaversion"] = json!(2);
        assert!(matches!(
            decode(&serde_json::to_vec(&wire).unwrap()),
            Err(DecodeError::SchemaVersion(2))
        ));
        wire["schemaversion"] = json!(1);
        wire["data"] = json!({"actor": 5});
        assert!(matches!(
            decode(&serde_json::to_vec(&wire).unwrap()),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn deletion_event_ids_are_deterministic_and_distinct() {
        let id: TaskId = TASK_ID.parse().unwrap();
        assert_eq!(deletion_event_id(id, 3), deletion_event_id(id, 3));
        assert_ne!(deletion_event_id(id, 3), deletion_event_id(id, 4));
    }

    #[test]
    fn topics_by_type() {
        assert_eq!(EventType::ReminderDue.topic(), "todo.reminders");
        assert_eq!(EventType::TaskDeleted.topic(), "todo.task.events");
        assert_eq!(
            EventType::from_wire("task.reopened"),
            Some(EventType::TaskReopened)
        );
    }
}
