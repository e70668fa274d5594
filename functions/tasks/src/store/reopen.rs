//! Reopen: one conditional update. Reopening an open task changes nothing and records no event,
//! but a stale `If-Match` is refused all the same: a precondition holds or fails alike on every
//! write route.

use todo_schema::event::EventType;
use todo_schema::{Status, Timestamp};

use super::item::{Attr, EventStamp, event_attrs, n, reminder_shard, s, updated_attrs};
use super::write::{is_stale, stamp_after};
use super::{DynamoTaskStore, ReopenTask, StoreError, TaskWrite, Transition};
use todo_lambda::dynamodb::Expr;

/// How often a reopen is retried when another writer's clock ran ahead of this one.
const MAX_ATTEMPTS: usize = 3;

impl ReopenTask for DynamoTaskStore {
    async fn reopen(&self, write: &TaskWrite) -> Result<Transition, StoreError> {
        let mut at = write.now;
        for _ in 0..MAX_ATTEMPTS {
            let e = status_change(
                write,
                vec![
                    ("status", Some(s(Status::Open.as_str()))),
                    ("completed_at", None),
                    ("rem_pk", Some(reminder_shard(write.id))),
                ],
                Status::Completed,
                EventType::TaskReopened,
                at,
            )?;
            let current = match self.update_task(&write.owner, write.id, e).await? {
                Ok(task) => {
                    return Ok(Transition::changed(task));
                }
                Err(None) => return Err(StoreError::NotFound),
                Err(Some(current)) => current,
            };
            if is_stale(write.expected_version, &current) {
                return Err(StoreError::VersionMismatch);
            }
            if current.status == Status::Open {
                return Ok(Transition::unchanged(current));
            }
            // Still completed and at the expected version: only the time was behind.
            at = stamp_after(&current, at);
        }
        Err(StoreError::Conflict)
    }
}

/// The update behind complete and reopen: `changes` to `write`'s task, from status `from` only,
/// recording an event of type `kind` by its actor at `at` and advancing the version (only at
/// its expected version, when given), and only while the task's last change lies before `at`.
pub(super) fn status_change(
    write: &TaskWrite,
    changes: Vec<Attr>,
    from: Status,
    kind: EventType,
    at: Timestamp,
) -> Result<Expr, StoreError> {
    let event = EventStamp::new(kind, &write.actor, at);
    let mut e = Expr::default();
    e.apply(changes);
    e.apply(updated_attrs(write.id, event.at));
    e.apply(event_attrs(&event)?);
    e.bump_version();
    e.require_exists();
    e.require_eq("status", s(from.as_str()));
    e.require_before("updated_at", s(event.at.to_string()));
    if let Some(v) = write.expected_version {
        e.require_eq("version", n(v));
    }
    Ok(e)
}
