//! The outbox contract of the tasks table: which stream records stand for an event, and which
//! event. The table's owner (the tasks function, `functions/tasks`) defines it in this small
//! crate of its own, so the publisher, which only applies it, links nothing else of the tasks
//! function (no HTTP handlers, no store, no DynamoDB client).
//!
//! A record stands for an event when
//! - it writes a task item (`kind = task`) whose new image records an event (`ev_id`) that its
//!   old image did not record: creates, updates, completes, reopens, reminders; or
//! - it removes a task item on a user's request (not a TTL expiry, which DynamoDB performs as
//!   the `dynamodb.amazonaws.com` service): a delete, whose event id is derived from the
//!   removed image ([`deletion_event_id`]).
//!
//! Everything else (idempotency records, bookkeeping writes that keep `ev_id`, TTL expiries) is
//! not an event and is skipped.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Deserialize;
use todo_schema::event::{EventType, deletion_event_id};
use todo_schema::{Actor, EventEnvelope, EventPayload, Task, Timestamp};
use uuid::Uuid;

/// `kind` of task items: only these are ever events. The tasks store writes it on every task.
pub const KIND_TASK: &str = "task";

/// What a stream record means.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The event the record stands for.
    Event(Box<EventEnvelope>),
    /// Not an event, and why.
    Skip(&'static str),
}

/// A record that should stand for an event but cannot be read as one.
#[derive(Debug, thiserror::Error)]
#[error("stream record {record}: {reason}")]
pub struct OutboxError {
    pub record: String,
    pub reason: String,
}

/// The bookkeeping attributes of an item image.
#[derive(Debug, Deserialize)]
struct Recorded {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    ev_id: Option<Uuid>,
    #[serde(default)]
    ev_type: Option<String>,
    #[serde(default)]
    ev_actor: Option<Actor>,
    #[serde(default)]
    ev_at: Option<Timestamp>,
    #[serde(default)]
    ev_reminder_at: Option<Timestamp>,
    #[serde(default)]
    ev_late: Option<bool>,
}

/// The principal DynamoDB uses for TTL deletions.
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// The event a stream record stands for, if any.
pub fn event_of(record: &EventRecord) -> Result<Outcome, OutboxError> {
    let fail = |reason: String| OutboxError {
        record: record
            .change
            .sequence_number
            .clone()
            .unwrap_or_else(|| record.event_id.clone()),
        reason,
    };
    let new = &record.change.new_image;
    let old = &record.change.old_image;
    let recorded = |item: &serde_dynamo::Item| -> Result<Recorded, OutboxError> {
        serde_dynamo::from_item(item.clone())
            .map_err(|e| fail(format!("bookkeeping attributes: {e}")))
    };
    let task = |item: &serde_dynamo::Item| -> Result<Task, OutboxError> {
        serde_dynamo::from_item(item.clone()).map_err(|e| fail(format!("task image: {e}")))
    };

    if record.event_name == "REMOVE" {
        let before = recorded(old)?;
        if before.kind.as_deref() != Some(KIND_TASK) {
            return Ok(Outcome::Skip("not a task item"));
        }
        let by_service = record
            .user_identity
            .as_ref()
            .is_some_and(|u| u.principal_id == TTL_PRINCIPAL);
        if by_service {
            return Ok(Outcome::Skip("expired by TTL"));
        }
        let before = task(old)?;
        // The stream's time has whole-second precision; the delete happened after the last
        // recorded change, so it is stamped at least a millisecond after it: a task's events
        // never share or reverse their times.
        let after_last = before.updated_at.successor();
        let time = Timestamp::from_datetime(record.change.approximate_creation_date_time)
            .map_or(after_last, |t| t.max(after_last));
        let id = deletion_event_id(before.id, before.version);
        let actor = Actor::User {
            id: before.owner.clone(),
        };
        return Ok(Outcome::Event(Box::new(EventEnvelope::new(
            id,
            before.id,
            time,
            EventPayload::TaskDeleted { actor, before },
        ))));
    }

    let after = recorded(new)?;
    if after.kind.as_deref() != Some(KIND_TASK) {
        return Ok(Outcome::Skip("not a task item"));
    }
    let Some(ev_id) = after.ev_id else {
        return Ok(Outcome::Skip("records no event"));
    };
    if !old.is_empty() && recorded(old)?.ev_id == Some(ev_id) {
        return Ok(Outcome::Skip(
            "bookkeeping write: the event was already recorded",
        ));
    }
    let (Some(ev_type), Some(actor), Some(time)) = (after.ev_type, after.ev_actor, after.ev_at)
    else {
        return Err(fail("ev_id without ev_type, ev_actor and ev_at".into()));
    };
    let kind =
        EventType::from_wire(&ev_type).ok_or_else(|| fail(format!("unknown ev_type {ev_type}")))?;
    let now = task(new)?;
    let before = || {
        if old.is_empty() {
            Err(fail(format!("{ev_type} without an old image")))
        } else {
            task(old)
        }
    };
    let payload = match kind {
        EventType::TaskCreated => EventPayload::TaskCreated { actor, task: now },
        EventType::TaskUpdated => EventPayload::TaskUpdated {
            actor,
            before: before()?,
            task: now,
        },
        EventType::TaskCompleted => EventPayload::TaskCompleted {
            actor,
            before: before()?,
            task: now,
        },
        EventType::TaskReopened => EventPayload::TaskReopened {
            actor,
            before: before()?,
            task: now,
        },
        EventType::ReminderDue => EventPayload::ReminderDue {
            actor,
            reminder_at: after
                .ev_reminder_at
                .ok_or_else(|| fail("reminder.due without ev_reminder_at".into()))?,
            late: after.ev_late.unwrap_or(false),
            task: now,
        },
        EventType::TaskDeleted => return Err(fail("task.deleted recorded on a live item".into())),
    };
    let subject = match &payload {
        EventPayload::TaskCreated { task, .. }
        | EventPayload::TaskUpdated { task, .. }
        | EventPayload::TaskCompleted { task, .. }
        | EventPayload::TaskReopened { task, .. }
        | EventPayload::ReminderDue { task, .. } => task.id,
        EventPayload::TaskDeleted { before, .. } => before.id,
    };
    Ok(Outcome::Event(Box::new(EventEnvelope::new(
        ev_id, subject, time, payload,
    ))))
}
