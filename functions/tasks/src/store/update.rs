//! Update (JSON Merge Patch).
//!
//! Most patches are one UpdateItem that sets the patched fields and what derives from them.
//! Some derived state needs fields the patch does not carry: moving `due` moves relative
//! reminders, and the series rule must stay valid for the new due time. Such a patch still goes
//! out as one UpdateItem, guarded by conditions that the missing fields cannot matter (no
//! relative reminders, no recurrence). When a guard fails, DynamoDB hands back the task as it is,
//! and the patch is applied to it and written with a version condition: two writes, no read.
//! Only a patch that adds relative reminders or a recurrence without a due time reads first.
//!
//! The UpdateItem also requires the stored `updated_at` to lie before this change's time, so a
//! handler that started earlier can never commit a later version with an earlier time: it is
//! refused, and the replace path stamps it just after the change that won.

use todo_schema::command::CheckedPatch;
use todo_schema::event::EventType;
use todo_schema::task::next_reminder;
use todo_schema::{Actor, Status, Task, TaskId, Timestamp, validation};

use super::item::{
    EventStamp, due_attrs, event_attrs, n, notes_attrs, priority_attrs, recurrence_attrs,
    reminders_attrs, s, tags_attrs, task_item, title_attrs, updated_attrs,
};
use super::write::{is_stale, stamp_after};
use super::{DynamoTaskStore, GetTask, StoreError, TaskWrite, UpdateTask};
use todo_lambda::dynamodb::Expr;

/// How often the apply-and-replace path retries when the task changes underneath it.
const MAX_ATTEMPTS: usize = 3;

/// How a patch reaches the table.
enum Plan {
    /// One UpdateItem (with guards where needed).
    Direct(Expr),
    /// The stored task is needed to compute the result.
    NeedsCurrent,
}

impl UpdateTask for DynamoTaskStore {
    async fn update(&self, write: &TaskWrite, patch: &CheckedPatch) -> Result<Task, StoreError> {
        let (owner, id) = (write.owner.as_str(), write.id);
        if patch.is_empty() {
            let current = self.get(owner, id).await?.ok_or(StoreError::NotFound)?;
            return if is_stale(write.expected_version, &current) {
                Err(StoreError::VersionMismatch)
            } else {
                Ok(current)
            };
        }
        let current = match plan(id, patch, &write.actor, write.now)? {
            Plan::Direct(mut e) => {
                e.require_exists();
                if let Some(v) = write.expected_version {
                    e.require_eq("version", n(v));
                }
                match self.update_task(owner, id, e).await? {
                    Ok(task) => return Ok(task),
                    Err(None) => return Err(StoreError::NotFound),
                    Err(Some(current)) => current,
                }
            }
            Plan::NeedsCurrent => self.get(owner, id).await?.ok_or(StoreError::NotFound)?,
        };
        self.apply_and_replace(current, write, patch).await
    }
}

impl DynamoTaskStore {
    /// Applies the patch to the task as stored and replaces it while its version holds.
    async fn apply_and_replace(
        &self,
        mut current: Task,
        write: &TaskWrite,
        patch: &CheckedPatch,
    ) -> Result<Task, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            if is_stale(write.expected_version, &current) {
                return Err(StoreError::VersionMismatch);
            }
            let at = stamp_after(&current, write.now);
            let next = patch.apply(&current, at).map_err(StoreError::Invalid)?;
            let event = EventStamp::new(EventType::TaskUpdated, &write.actor, at);
            match self
                .replace_task(task_item(&next, &event, at)?, current.version)
                .await?
            {
                Ok(()) => return Ok(next),
                Err(Some(changed)) => current = changed,
                Err(None) => return Err(StoreError::NotFound),
            }
        }
        Err(StoreError::Conflict)
    }
}

/// Decides how the patch is written and, for one UpdateItem, builds it.
fn plan(
    id: TaskId,
    patch: &CheckedPatch,
    actor: &Actor,
    now: Timestamp,
) -> Result<Plan, StoreError> {
    let adds_relative = patch
        .reminders
        .as_ref()
        .is_some_and(|r| r.iter().any(|r| r.is_relative()));
    let adds_rule = matches!(patch.recurrence, Some(Some(_)));
    if patch.due.is_none() && (adds_relative || adds_rule) {
        return Ok(Plan::NeedsCurrent);
    }
    if patch.touches_schedule() {
        // With the guards below, what the patch leaves out cannot affect these rules.
        let probe = Task {
            due: patch.due.flatten(),
            reminders: patch.reminders.clone().unwrap_or_default(),
            recurrence: patch.recurrence.clone().flatten(),
            ..placeholder(id, now)
        };
        let errors = validation::cross_field(&probe);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
    }

    let mut e = Expr::default();
    if let Some(title) = &patch.title {
        e.apply(title_attrs(id, title));
    }
    if let Some(notes) = &patch.notes {
        e.apply(notes_attrs(notes.as_deref()));
    }
    if let Some(p) = patch.priority {
        e.apply(priority_attrs(id, p));
    }
    if let Some(tags) = &patch.tags {
        e.apply(tags_attrs(tags)?);
    }
    if let Some(due) = &patch.due {
        e.apply(due_attrs(id, due.as_ref())?);
        if patch.reminders.is_none() {
            e.require_absent("rem_rel");
        }
        if patch.recurrence.is_none() {
            e.require_absent("recurrence");
        }
    }
    if let Some(reminders) = &patch.reminders {
        let due = patch.due.flatten();
        e.apply(reminders_attrs(
            reminders,
            next_reminder(reminders, due.as_ref(), now),
        )?);
    }
    if let Some(rule) = &patch.recurrence {
        e.apply(recurrence_attrs(rule.as_ref()));
        if rule.is_some() {
            let series = e.name("series_id");
            let this = e.value(s(id.to_string()));
            e.set_raw(format!("{series} = if_not_exists({series}, {this})"));
        }
    }
    e.apply(updated_attrs(id, now));
    e.require_before("updated_at", s(now.to_string()));
    e.apply(event_attrs(&EventStamp::new(
        EventType::TaskUpdated,
        actor,
        now,
    ))?);
    e.bump_version();
    Ok(Plan::Direct(e))
}

/// A task with only the schedule fields meaningful, for checking cross-field rules.
fn placeholder(id: TaskId, now: Timestamp) -> Task {
    Task {
        id,
        owner: String::new(),
        title: String::new(),
        notes: None,
        status: Status::Open,
        priority: Default::default(),
        tags: Vec::new(),
        due: None,
        reminders: Vec::new(),
        recurrence: None,
        series_id: None,
        next_id: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        version: 0,
    }
}
