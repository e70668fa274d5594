//! Reopen: one conditional update. Reopening an open task changes nothing and records no event.

use todo_schema::event::EventType;
use todo_schema::{Actor, Status, TaskId, Timestamp};

use super::expr::Expr;
use super::item::{EventStamp, event_attrs, n, reminder_shard, s, updated_attrs};
use super::write::is_stale;
use super::{DynamoTaskStore, ReopenTask, StoreError, Transition};

impl ReopenTask for DynamoTaskStore {
    async fn reopen(
        &self,
        owner: &str,
        id: TaskId,
        expected_version: Option<u64>,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Transition, StoreError> {
        let mut e = Expr::default();
        e.apply(vec![
            ("status", Some(s(Status::Open.as_str()))),
            ("completed_at", None),
            ("rem_pk", Some(reminder_shard(id))),
        ]);
        e.apply(updated_attrs(id, now));
        e.apply(event_attrs(&EventStamp::new(
            EventType::TaskReopened,
            actor,
            now,
        ))?);
        bump_version(&mut e);
        e.require_exists();
        e.require_eq("status", s(Status::Completed.as_str()));
        if let Some(v) = expected_version {
            e.require_eq("version", n(v));
        }
        match self.update_task(owner, id, e).await? {
            Ok(task) => Ok(Transition {
                task,
                changed: true,
                next: None,
            }),
            Err(None) => Err(StoreError::NotFound),
            Err(Some(current)) if current.status == Status::Open => Ok(Transition {
                task: current,
                changed: false,
                next: None,
            }),
            Err(Some(current)) if is_stale(expected_version, &current) => {
                Err(StoreError::VersionMismatch)
            }
            Err(Some(_)) => Err(StoreError::Conflict),
        }
    }
}

/// `version = version + 1`.
pub(super) fn bump_version(e: &mut Expr) {
    let version = e.name("version");
    let one = e.value(n(1));
    e.set_raw(format!("{version} = {version} + {one}"));
}
