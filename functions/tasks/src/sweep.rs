//! The reminder sweep (scheduled every minute): records a `reminder.due` event on each task
//! whose next reminder has come, which the outbox carries to `todo.reminders`.
//!
//! Work per run is bounded: at most [`PER_SHARD`] reminders per index shard. A reminder found
//! more than [`GRACE`] after its time is still delivered, marked late.
//!
//! The schedule starts one invocation a minute; [`sweep_for`] sweeps every [`EVERY`] within it,
//! so a reminder is recorded within about ten seconds of its time, not up to a minute later.

use chrono::Duration;
use std::time::Duration as StdDuration;
use todo_schema::{Actor, Timestamp};

use crate::store::StoreError;
use crate::store::item::REMINDER_SHARDS;
use crate::store::sweep::SweepReminders;

/// Reminders handled per shard and run; the rest wait for the next run.
pub const PER_SHARD: i32 = 100;
/// Delivered later than this after its time, a reminder is marked late.
pub const GRACE: Duration = Duration::minutes(2);
/// The actor of reminder events.
pub const SWEEP_ACTOR: &str = "reminder-sweep";

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Reminders found due.
    pub found: usize,
    /// Reminder events recorded.
    pub recorded: usize,
    /// Of those, delivered later than the grace period.
    pub late: usize,
    /// Tasks that changed between the query and the write (the next run sees them afresh).
    pub skipped: usize,
}

/// How often the deployed sweep sweeps within its minute.
pub const EVERY: StdDuration = StdDuration::from_secs(10);

/// Sweeps every `every` for `window` (the part of a minute one invocation covers).
pub async fn sweep_for<S: SweepReminders>(
    store: &S,
    window: StdDuration,
    every: StdDuration,
) -> Result<SweepReport, StoreError> {
    let started = tokio::time::Instant::now();
    let mut total = SweepReport::default();
    loop {
        let r = sweep(store, Timestamp::now()).await?;
        total.found += r.found;
        total.recorded += r.recorded;
        total.late += r.late;
        total.skipped += r.skipped;
        let next = tokio::time::Instant::now() + every;
        if next.duration_since(started) >= window {
            return Ok(total);
        }
        tokio::time::sleep_until(next).await;
    }
}

/// One sweep at `now`.
pub async fn sweep<S: SweepReminders>(
    store: &S,
    now: Timestamp,
) -> Result<SweepReport, StoreError> {
    let actor = Actor::System {
        id: SWEEP_ACTOR.to_string(),
    };
    let mut report = SweepReport::default();
    for shard in 0..REMINDER_SHARDS {
        for due in store.due_reminders(shard, now, PER_SHARD).await? {
            report.found += 1;
            let late = now.as_datetime() - due.at.as_datetime() > GRACE;
            if store.record_reminder(&due, late, &actor, now).await? {
                report.recorded += 1;
                report.late += usize::from(late);
            } else {
                report.skipped += 1;
            }
        }
    }
    tracing::info!(?report, "reminder sweep");
    Ok(report)
}
