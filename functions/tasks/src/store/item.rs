//! The tasks table's item layout: keys, the attributes derived for indexes, and the event each
//! write records on the item (the outbox).
//!
//! | item        | pk             | sk            | notes                                        |
//! |-------------|----------------|---------------|----------------------------------------------|
//! | task        | `USER#<sub>`   | `TASK#<id>`   | the task's fields + derived + `ev_*`          |
//! | idempotency | `USER#<sub>`   | `IDEM#<key>`  | first response of a create, `ttl` = +24 h     |
//! | tombstone   | `USER#<sub>`   | `GONE#<id>`   | a deleted task's id and time, for delta sync; `ttl` = +31 days |
//!
//! Derived attributes, each a function of one field so a partial update can keep them right:
//! `s_due`, `s_prio`, `s_title`, `s_upd` (sort keys of the four LSIs; suffixed with the id so
//! they are unique), `q_title`, `q_notes` (lower-case text for search), `rem_pk` + `rem_at` (the
//! sparse `reminders-due` GSI: `rem_pk` is present only while the task is open, `rem_at` only
//! while a reminder is pending, whatever the status), `rem_rel` (the task has reminders relative to its due time),
//! `s_chg` (the sort key of the `changes` GSI: the instant of the last change and the id, on
//! tasks and tombstones alike, so one Query reads a user's changes since an instant).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use todo_schema::event::EventType;
use todo_schema::{Actor, Due, Priority, Recurrence, Reminder, Task, TaskId, Timestamp};
use uuid::Uuid;

use super::StoreError;

use todo_lambda::dynamodb::key;
pub use todo_lambda::dynamodb::{n, s, user_pk};
pub use todo_lambda::table::Item;
/// An attribute to set (`Some`) or remove (`None`).
pub type Attr = (&'static str, Option<AttributeValue>);

/// `kind` of task items; the publisher only turns these into events (the outbox contract).
pub use todo_outbox::KIND_TASK;
/// `kind` of idempotency records; never events.
pub const KIND_IDEMPOTENCY: &str = "idempotency";
/// `kind` of tombstones: what delta sync tells a client about a deleted task; never events.
pub const KIND_TOMBSTONE: &str = "tombstone";
/// How long a tombstone is kept. A sync token older than this could miss a deletion, so
/// [`crate::store::SYNC_TOKEN_VALIDITY`] is a day shorter.
pub const TOMBSTONE_DAYS: u64 = 31;
/// How many partition keys (`REM#0` to `REM#127`) the `reminders-due` index spreads over; the
/// sweep pages through each.
///
/// Sized by the numbers (docs/storage.md, "The reminders index at scale"): at 1,000,000 task
/// events a minute, 2 in 3 carrying a reminder, the index takes up to 11,100 writes a second,
/// each at most 2 writes of the projected task (a moved `rem_at` is a delete and a put), so up
/// to 22,200 write units a second for tasks of up to 1 KB and 44,400 for tasks of up to 2 KB.
/// Spread over 128 keys by the task id's random last byte, that is at most 350 a key, under half
/// of DynamoDB's 1,000 per partition, however many reminders fall on the same 9:00. The key holds
/// no time bucket: all of a 9:00's reminders would then share one bucket's keys at once, and the
/// sweep would have to know which buckets a late or held-up reminder waits in; the sort key
/// (`rem_at`) already lets each Query read only what is due. The four keys of earlier releases
/// (`REM#0` to `REM#3`) are among these, so a stack upgrades with nothing to migrate.
pub const REMINDER_SHARDS: u8 = 128;

/// Names of the local secondary indexes, one per sort order besides creation.
pub const INDEX_BY_DUE: &str = "by-due";
pub const INDEX_BY_PRIORITY: &str = "by-priority";
pub const INDEX_BY_TITLE: &str = "by-title";
pub const INDEX_BY_UPDATED: &str = "by-updated";
/// The sparse global index the reminder sweep queries.
pub const INDEX_REMINDERS_DUE: &str = "reminders-due";
/// The global index of every task and tombstone by the instant of its last change (`s_chg`).
pub const INDEX_CHANGES: &str = "changes";

/// Sorts after any timestamp: tasks without a due time come last in ascending due order.
const NO_DUE: &str = "~";

/// The sort key of a task.
pub fn task_sk(id: TaskId) -> String {
    format!("TASK#{id}")
}

/// The sort key of an idempotency record.
pub fn idempotency_sk(key: &str) -> String {
    format!("IDEM#{key}")
}

/// The sort key of a deleted task's tombstone.
pub fn tombstone_sk(id: TaskId) -> String {
    format!("GONE#{id}")
}

/// The primary key of a task.
pub fn task_key(owner: &str, id: TaskId) -> Item {
    key(user_pk(owner), task_sk(id))
}

fn encode<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Internal(format!("encode: {e}")))
}

/// The event a write records on its item: the stream's new image carries it to the publisher.
#[derive(Clone, Debug, PartialEq)]
pub struct EventStamp {
    pub id: Uuid,
    pub kind: EventType,
    pub actor: Actor,
    pub at: Timestamp,
}

impl EventStamp {
    /// A new event with a fresh, time-ordered id.
    pub fn new(kind: EventType, actor: &Actor, at: Timestamp) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            actor: actor.clone(),
            at,
        }
    }
}

/// `ev_id`, `ev_type`, `ev_actor`, `ev_at`.
pub fn event_attrs(e: &EventStamp) -> Result<Vec<Attr>, StoreError> {
    Ok(vec![
        ("ev_id", Some(s(e.id.to_string()))),
        ("ev_type", Some(s(e.kind.as_str()))),
        ("ev_actor", Some(encode(&e.actor)?)),
        ("ev_at", Some(s(e.at.to_string()))),
    ])
}

/// A sort key made unique by the task id. The separator (U+0001) sorts before every character
/// a title or instant can hold (titles have no control characters), so `ab` sorts before
/// `ab c` and `ab!`: with `#` a title followed by a space or `!` came before its own prefix.
const SORT_KEY_SEPARATOR: char = '\u{1}';

fn unique(prefix: &str, id: TaskId) -> AttributeValue {
    s(format!("{prefix}{SORT_KEY_SEPARATOR}{id}"))
}

/// `title` and what is derived from it.
pub fn title_attrs(id: TaskId, title: &str) -> Vec<Attr> {
    let lower = title.to_lowercase();
    vec![
        ("title", Some(s(title))),
        ("s_title", Some(unique(&lower, id))),
        ("q_title", Some(s(lower))),
    ]
}

/// `notes` and its search copy.
pub fn notes_attrs(notes: Option<&str>) -> Vec<Attr> {
    vec![
        ("notes", notes.map(s)),
        ("q_notes", notes.map(|n| s(n.to_lowercase()))),
    ]
}

/// `priority` and its sort key.
pub fn priority_attrs(id: TaskId, p: Priority) -> Vec<Attr> {
    vec![
        ("priority", Some(s(p.as_str()))),
        ("s_prio", Some(unique(&p.rank().to_string(), id))),
    ]
}

/// `tags`.
pub fn tags_attrs(tags: &[String]) -> Result<Vec<Attr>, StoreError> {
    Ok(vec![("tags", Some(encode(&tags)?))])
}

/// `due` and its sort key.
pub fn due_attrs(id: TaskId, due: Option<&Due>) -> Result<Vec<Attr>, StoreError> {
    let sort = due.map(|d| d.at.to_string()).unwrap_or(NO_DUE.to_string());
    Ok(vec![
        ("due", due.map(encode).transpose()?),
        ("s_due", Some(unique(&sort, id))),
    ])
}

/// `reminders`, whether any is relative, and when the next one is due.
pub fn reminders_attrs(
    reminders: &[Reminder],
    next: Option<Timestamp>,
) -> Result<Vec<Attr>, StoreError> {
    let relative = reminders.iter().any(Reminder::is_relative);
    Ok(vec![
        ("reminders", Some(encode(&reminders)?)),
        ("rem_rel", relative.then_some(AttributeValue::Bool(true))),
        ("rem_at", next.map(|t| s(t.to_string()))),
    ])
}

/// `recurrence`.
pub fn recurrence_attrs(rule: Option<&Recurrence>) -> Vec<Attr> {
    vec![("recurrence", rule.map(|r| s(r.as_str())))]
}

/// The reminders-due index partition of an open task (absent while completed).
pub fn reminder_shard(id: TaskId) -> AttributeValue {
    let last = id.as_uuid().as_bytes()[15];
    s(format!("REM#{}", last % REMINDER_SHARDS))
}

/// `updated_at` and its sort keys: the `by-updated` LSI's and the `changes` GSI's.
pub fn updated_attrs(id: TaskId, at: Timestamp) -> Vec<Attr> {
    vec![
        ("updated_at", Some(s(at.to_string()))),
        ("s_upd", Some(unique(&at.to_string(), id))),
        ("s_chg", Some(unique(&at.to_string(), id))),
    ]
}

/// The tombstone a delete leaves in the `changes` index: the id, the owner and when, kept
/// [`TOMBSTONE_DAYS`] so that a client syncing within that learns of the deletion.
pub fn tombstone_item(owner: &str, id: TaskId, at: Timestamp) -> Item {
    let expires = at.after(std::time::Duration::from_secs(TOMBSTONE_DAYS * 86_400));
    HashMap::from([
        ("pk".to_string(), s(user_pk(owner))),
        ("sk".to_string(), s(tombstone_sk(id))),
        ("kind".to_string(), s(KIND_TOMBSTONE)),
        ("id".to_string(), s(id.to_string())),
        ("owner".to_string(), s(owner)),
        ("deleted_at".to_string(), s(at.to_string())),
        ("s_chg".to_string(), unique(&at.to_string(), id)),
        ("ttl".to_string(), n(expires.epoch_seconds())),
    ])
}

/// The lower bound of `s_chg` for changes at or after `at`: every key of such a change sorts
/// at or after the instant alone.
pub fn changes_from(at: Timestamp) -> AttributeValue {
    s(at.to_string())
}

/// The whole item for a task, recording `event`.
pub fn task_item(task: &Task, event: &EventStamp, now: Timestamp) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(task)
        .map_err(|e| StoreError::Internal(format!("encode task: {e}")))?;
    let mut attrs = vec![
        ("pk", Some(s(user_pk(&task.owner)))),
        ("sk", Some(s(task_sk(task.id)))),
        ("kind", Some(s(KIND_TASK))),
        (
            "rem_pk",
            (task.status == todo_schema::Status::Open).then(|| reminder_shard(task.id)),
        ),
    ];
    attrs.extend(title_attrs(task.id, &task.title));
    attrs.extend(notes_attrs(task.notes.as_deref()));
    attrs.extend(priority_attrs(task.id, task.priority));
    attrs.extend(due_attrs(task.id, task.due.as_ref())?);
    // `rem_at` is kept while the task is completed, so reopening (one update that cannot see
    // the reminders) only has to put `rem_pk` back.
    let next = todo_schema::task::next_reminder(&task.reminders, task.due.as_ref(), now);
    attrs.extend(reminders_attrs(&task.reminders, next)?);
    attrs.extend(updated_attrs(task.id, task.updated_at));
    attrs.extend(event_attrs(event)?);
    for (name, value) in attrs {
        match value {
            Some(v) => item.insert(name.to_string(), v),
            None => item.remove(name),
        };
    }
    Ok(item)
}

/// The task an item holds; extra attributes (keys, derived, events) are ignored.
pub fn task_from_item(item: Item) -> Result<Task, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Internal(format!("decode task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_schema::{NewTask, Status};

    #[test]
    fn task_item_round_trips_and_carries_keys_and_event() {
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let cmd: NewTask = serde_json::from_value(serde_json::json!({
            "title": "Call Mum", "notes": "Sunday", "priority": "urgent", "tags": ["family"],
            "due": {"at": "2026-03-01T18:00:00Z", "tz": "Europe/London"},
            "reminders": [{"before_due_minutes": 30}]
        }))
        .unwrap();
        let task = cmd.into_task(TaskId::generate(), "u1", now).unwrap();
        let actor = Actor::User { id: "u1".into() };
        let ev = EventStamp::new(EventType::TaskCreated, &actor, now);
        let item = task_item(&task, &ev, now).unwrap();
        assert_eq!(item["pk"], s("USER#u1"));
        assert_eq!(item["kind"], s(KIND_TASK));
        assert_eq!(item["ev_type"], s("task.created"));
        assert_eq!(item["rem_at"], s("2026-03-01T17:30:00.000Z"));
        assert_eq!(item["rem_rel"], AttributeValue::Bool(true));
        assert_eq!(item["s_prio"], s(format!("3\u{1}{}", task.id)));
        assert_eq!(item["q_title"], s("call mum"));
        assert!(item.contains_key("rem_pk"));
        assert_eq!(task_from_item(item).unwrap(), task);

        let mut done = task.clone();
        done.status = Status::Completed;
        let item = task_item(&done, &ev, now).unwrap();
        assert!(
            !item.contains_key("rem_pk"),
            "completed tasks leave the reminders index"
        );
        assert!(item.contains_key("rem_at"));
    }
}
