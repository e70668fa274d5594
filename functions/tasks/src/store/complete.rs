//! Complete: one conditional update for a plain task. A recurring task is refused by that
//! update's condition, which hands back the task as it is; one transaction then completes it and
//! creates the next occurrence together, so a series can never lose or double an occurrence.
//!
//! The completed task records the occurrence it created (`next_id`), and a task that has one
//! creates no other: complete, reopen, complete again leaves one successor. The same refused
//! update covers a task whose last change carries a later time than this handler's clock (a
//! concurrent writer): the replacing write is then stamped just after that change.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use todo_schema::event::EventType;
use todo_schema::{Actor, Status, Task, TaskId, Timestamp};

use super::errors::{Failure, classify, into_store_error};
use super::item::{EventStamp, n, s, task_from_item, task_item};
use super::reopen::status_change;
use super::write::{is_stale, stamp_after};
use super::{CompleteTask, DynamoTaskStore, StoreError, TaskWrite, Transition};

/// How often a recurring completion is retried when the task changes underneath it.
const MAX_ATTEMPTS: usize = 3;

impl CompleteTask for DynamoTaskStore {
    async fn complete(&self, write: &TaskWrite) -> Result<Transition, StoreError> {
        let now = write.now;
        let mut e = status_change(
            write,
            vec![
                ("status", Some(s(Status::Completed.as_str()))),
                ("completed_at", Some(s(now.to_string()))),
                ("rem_pk", None),
            ],
            Status::Open,
            EventType::TaskCompleted,
            now,
        )?;
        // A recurring task needs its next occurrence: this update must not complete it.
        e.require_absent("recurrence");
        let mut current = match self.update_task(&write.owner, write.id, e).await? {
            Ok(task) => {
                return Ok(Transition::changed(task));
            }
            Err(None) => return Err(StoreError::NotFound),
            Err(Some(current)) => current,
        };
        for _ in 0..MAX_ATTEMPTS {
            if is_stale(write.expected_version, &current) {
                return Err(StoreError::VersionMismatch);
            }
            if current.status == Status::Completed {
                return Ok(Transition::unchanged(current));
            }
            let at = stamp_after(&current, now);
            match self.complete_occurrence(&current, &write.actor, at).await? {
                Ok(done) => return Ok(done),
                Err(Some(changed)) => current = changed,
                Err(None) => return Err(StoreError::NotFound),
            }
        }
        Err(StoreError::Conflict)
    }
}

impl DynamoTaskStore {
    /// Completes `current` (still at its version) and creates the next occurrence, in one
    /// transaction; the refusal carries the task as it now is.
    async fn complete_occurrence(
        &self,
        current: &Task,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Result<Transition, Option<Task>>, StoreError> {
        // An occurrence creates its successor once, however often it is reopened.
        let next = match current.next_id {
            Some(_) => None,
            None => next_occurrence(current, now)?,
        };
        let mut done = current.clone();
        done.status = Status::Completed;
        done.completed_at = Some(now);
        done.updated_at = now;
        done.version += 1;
        done.next_id = current.next_id.or(next.as_ref().map(|t| t.id));

        let done_item = task_item(
            &done,
            &EventStamp::new(EventType::TaskCompleted, actor, now),
            now,
        )?;
        let put_done = Put::builder()
            .table_name(&self.table)
            .set_item(Some(done_item))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(current.version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_done).build());
        if let Some(next) = &next {
            let item = task_item(
                next,
                &EventStamp::new(EventType::TaskCreated, actor, now),
                now,
            )?;
            let put_next = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            tx = tx.transact_items(TransactWriteItem::builder().put(put_next).build());
        }
        match tx.send().await {
            Ok(_) => Ok(Ok(Transition {
                task: done,
                changed: true,
                next,
            })),
            Err(err) => match classify(err) {
                Failure::Cancelled(reasons) => {
                    let first = reasons.first();
                    if first.and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
                        let now_is = first
                            .and_then(|r| r.item().cloned())
                            .map(task_from_item)
                            .transpose()?;
                        Ok(Err(now_is))
                    } else {
                        Err(into_store_error(Failure::Cancelled(reasons)))
                    }
                }
                other => Err(into_store_error(other)),
            },
        }
    }
}

/// The next occurrence of a recurring task, or `None` when the series has ended.
fn next_occurrence(current: &Task, now: Timestamp) -> Result<Option<Task>, StoreError> {
    let (Some(rule), Some(due)) = (&current.recurrence, &current.due) else {
        return Ok(None);
    };
    // A stored rule that no longer yields dates (read leniently) ends the series rather than
    // blocking the completion.
    let next = rule.next_occurrence(due).unwrap_or_else(|e| {
        tracing::warn!(task = %current.id, error = %e, "stored recurrence ends the series");
        None
    });
    Ok(next.map(|(due, rule)| Task {
        id: TaskId::generate(),
        owner: current.owner.clone(),
        title: current.title.clone(),
        notes: current.notes.clone(),
        status: Status::Open,
        priority: current.priority,
        tags: current.tags.clone(),
        due: Some(due),
        reminders: current.reminders.clone(),
        recurrence: Some(rule),
        series_id: current.series_id.or(Some(current.id)),
        next_id: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        version: 1,
    }))
}
