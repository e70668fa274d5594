//! The reminder sweep's operations: find due reminders on the sparse `reminders-due` index (one
//! shard's Query, a page at a time), record one reminder on its task with a conditional write,
//! and set aside an indexed item that cannot be read.
//!
//! An unreadable item must leave the index: it sorts where it sorts, and left in place it would
//! come back first in every Query of its shard and, with enough of them, fill every bounded page
//! so that no other user's reminder is ever reached.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use todo_schema::event::EventType;
use todo_schema::task::next_reminder;
use todo_schema::{Actor, Task, Timestamp};

use super::errors::{Failure, classify, into_store_error};
use super::item::{
    EventStamp, INDEX_REMINDERS_DUE, Item, event_attrs, n, reminder_shard, s, task_from_item,
};
use super::{DynamoTaskStore, StoreError};
use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{Expr, lenient_page, start_key_item};

/// A reminder that is due.
#[derive(Clone, Debug, PartialEq)]
pub struct DueReminder {
    pub task: Task,
    /// The instant it was scheduled for (the task's `rem_at`).
    pub at: Timestamp,
}

impl DueReminder {
    /// The task's reminder after this one, once this one is recorded: what its `rem_at` moves
    /// to. The sweep records it in the same run when it is due too.
    pub fn next(&self) -> Option<Timestamp> {
        next_reminder(&self.task.reminders, self.task.due.as_ref(), self.at)
    }
}

/// An indexed item that is not a readable task (written by an older, laxer version, or by hand).
#[derive(Clone, Debug, PartialEq)]
pub struct Unreadable {
    /// The item's key, as stored.
    pub pk: String,
    pub sk: String,
    /// Its `rem_at` as stored, so it is set aside only while unchanged.
    pub rem_at: AttributeValue,
    /// Why it cannot be read.
    pub reason: String,
}

/// What a Query of the index finds.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    Due(DueReminder),
    Unreadable(Unreadable),
}

/// What the sweep needs from the table.
pub trait SweepReminders {
    /// One page of the reminders due at or before `now` in one shard, earliest first, at most
    /// `limit`, from `start` (where the previous page ended) on, with the items among them that
    /// cannot be read; `next` is where the following page starts.
    fn due_page(
        &self,
        shard: u8,
        now: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<Paged<Found>, StoreError>> + Send;

    /// The first page of [`Self::due_page`].
    fn due_reminders(
        &self,
        shard: u8,
        now: Timestamp,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<Found>, StoreError>> + Send
    where
        Self: Sync,
    {
        async move { Ok(self.due_page(shard, now, limit, None).await?.items) }
    }

    /// Takes an unreadable item out of the reminders index, recording why (`rem_unreadable`).
    fn set_aside(&self, item: &Unreadable) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records `reminder.due` on the task and moves it to its next pending reminder, only if
    /// the task is still as it was read. `Ok(false)` when it changed meanwhile.
    fn record_reminder(
        &self,
        due: &DueReminder,
        late: bool,
        actor: &Actor,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl SweepReminders for DynamoTaskStore {
    async fn due_page(
        &self,
        shard: u8,
        now: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<Paged<Found>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_REMINDERS_DUE)
            .key_condition_expression("rem_pk = :shard AND rem_at <= :now")
            .expression_attribute_values(":shard", s(format!("REM#{shard}")))
            .expression_attribute_values(":now", s(now.to_string()))
            .limit(limit)
            .set_exclusive_start_key(start.map(start_key_item))
            .send()
            .await
            .map_err(|e| into_store_error(classify(e)))?;
        // Every item comes back: the unreadable ones as such, to be set aside.
        Ok(lenient_page(out, |item| Some(found(item))))
    }

    async fn set_aside(&self, item: &Unreadable) -> Result<(), StoreError> {
        let mut e = Expr::default();
        e.apply(vec![
            ("rem_pk", None),
            ("rem_unreadable", Some(s(item.reason.clone()))),
        ]);
        e.require_exists();
        e.require_eq("rem_at", item.rem_at.clone());
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(item.pk.clone()))
            .key("sk", s(item.sk.clone()))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match result.map_err(classify) {
            // Changed or gone meanwhile: the next sweep sees it afresh.
            Ok(_) | Err(Failure::Condition(_)) => Ok(()),
            Err(other) => Err(into_store_error(other)),
        }
    }

    async fn record_reminder(
        &self,
        due: &DueReminder,
        late: bool,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let task = &due.task;
        let next = due.next();
        let mut e = Expr::default();
        e.apply(event_attrs(&EventStamp::new(
            EventType::ReminderDue,
            actor,
            now,
        ))?);
        e.apply(vec![
            ("ev_reminder_at", Some(s(due.at.to_string()))),
            ("ev_late", Some(AttributeValue::Bool(late))),
            ("rem_at", next.map(|t| s(t.to_string()))),
            // The index entry is written again anyway (its `rem_at` moves): it moves to the
            // task's shard of this release too, so tasks indexed under an earlier release's
            // fewer keys spread out as their reminders go out.
            ("rem_pk", Some(reminder_shard(task.id))),
        ]);
        // The user's version is untouched: a reminder changes no field they can see or edit.
        e.require_eq("version", n(task.version));
        e.require_eq("rem_at", s(due.at.to_string()));
        e.require_eq("status", s("open"));
        self.update_task_unread(&task.owner, task.id, e).await
    }
}

/// Reads one item of the index: a due reminder, or why it is none.
fn found(item: Item) -> Found {
    let key = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let (pk, sk) = (key("pk"), key("sk"));
    let rem_at = item
        .get("rem_at")
        .cloned()
        .unwrap_or(AttributeValue::Null(true));
    let at = rem_at
        .as_s()
        .map_err(|_| "rem_at is not a string".to_string())
        .and_then(|v| {
            v.parse::<Timestamp>()
                .map_err(|e| format!("rem_at {v:?}: {e}"))
        });
    match at.and_then(|at| {
        task_from_item(item)
            .map(|task| DueReminder { task, at })
            .map_err(|e| e.to_string())
    }) {
        Ok(due) => Found::Due(due),
        Err(reason) => Found::Unreadable(Unreadable {
            pk,
            sk,
            rem_at,
            reason,
        }),
    }
}
