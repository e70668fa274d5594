//! Reopen: one conditional update. Reopening an open task changes nothing and records no event.

use todo_schema::event::EventType;
use todo_schema::{Actor, Status, TaskId, Timestamp};

use super::expr::Expr;
use super::item::{Attr, EventStamp, event_attrs, n, reminder_shard, s, updated_attrs};
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
        let e = status_change(
            id,
            vec![
                ("status", Some(s(Status::Open.as_str()))),
                ("completed_at", None),
                ("rem_pk", Some(reminder_shard(id))),
            ],
            Status::Completed,
            &EventStamp::new(EventType::TaskReopened, actor, now),
            expected_version,
        )?;
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

/// The update behind complete and reopen: `changes`, from status `from` only, recording `event`
/// and advancing the version (only at `expected_version`, when given).
pub(super) fn status_change(
    id: TaskId,
    changes: Vec<Attr>,
    from: Status,
    event: &EventStamp,
    expected_version: Option<u64>,
) -> Result<Expr, StoreError> {
    let mut e = Expr::default();
    e.apply(changes);
    e.apply(updated_attrs(id, event.at));
    e.apply(event_attrs(event)?);
    e.bump_version();
    e.require_exists();
    e.require_eq("status", s(from.as_str()));
    if let Some(v) = expected_version {
        e.require_eq("version", n(v));
    }
    Ok(e)
}
