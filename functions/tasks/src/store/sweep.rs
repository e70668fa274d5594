//! The reminder sweep's two operations: find due reminders on the sparse `reminders-due`
//! index (one Query per shard), and record one reminder on its task with a conditional write.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use todo_schema::event::EventType;
use todo_schema::task::next_reminder;
use todo_schema::{Actor, Task, Timestamp};

use super::errors::{classify, into_store_error};
use super::expr::Expr;
use super::item::{EventStamp, INDEX_REMINDERS_DUE, event_attrs, n, s, task_from_item};
use super::{DynamoTaskStore, StoreError};

/// A reminder that is due.
#[derive(Clone, Debug, PartialEq)]
pub struct DueReminder {
    pub task: Task,
    /// The instant it was scheduled for (the task's `rem_at`).
    pub at: Timestamp,
}

/// What the sweep needs from the table.
pub trait SweepReminders {
    /// Reminders due at or before `now` in one shard, earliest first, at most `limit`.
    fn due_reminders(
        &self,
        shard: u8,
        now: Timestamp,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<DueReminder>, StoreError>> + Send;

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
    async fn due_reminders(
        &self,
        shard: u8,
        now: Timestamp,
        limit: i32,
    ) -> Result<Vec<DueReminder>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_REMINDERS_DUE)
            .key_condition_expression("rem_pk = :shard AND rem_at <= :now")
            .expression_attribute_values(":shard", s(format!("REM#{shard}")))
            .expression_attribute_values(":now", s(now.to_string()))
            .limit(limit)
            .send()
            .await
            .map_err(|e| into_store_error(classify(e)))?;
        let mut due = Vec::new();
        for item in out.items.unwrap_or_default() {
            let at = item
                .get("rem_at")
                .and_then(|v| v.as_s().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| StoreError::Internal("indexed task without rem_at".into()))?;
            due.push(DueReminder {
                task: task_from_item(item)?,
                at,
            });
        }
        Ok(due)
    }

    async fn record_reminder(
        &self,
        due: &DueReminder,
        late: bool,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let task = &due.task;
        let next = next_reminder(&task.reminders, task.due.as_ref(), due.at);
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
        ]);
        // The user's version is untouched: a reminder changes no field they can see or edit.
        e.require_eq("version", n(task.version));
        e.require_eq("rem_at", s(due.at.to_string()));
        e.require_eq("status", s("open"));
        match self.update_task(&task.owner, task.id, e).await? {
            Ok(_) => Ok(true),
            Err(_changed_meanwhile) => Ok(false),
        }
    }
}
