//! The reminder sweep (scheduled every minute): records a `reminder.due` event on each task
//! whose next reminder has come, which the outbox carries to `todo.reminders`.
//!
//! Work per run is bounded: at most [`PER_SHARD`] reminders per index shard. A reminder found
//! more than [`GRACE`] after its time is still delivered, marked late.
//!
//! The schedule starts one invocation a minute; [`sweep_for`] sweeps at its start and every
//! [`EVERY`] after, up to its window. The deployed window is 20 s (sweeps at 0, 10 and 20 s):
//! the longest wait for a reminder is the 40 s from the last sweep of one minute to the first of
//! the next, well inside the 60 s promise, while the function is billed about 20 s a minute
//! instead of 55 (docs/pipeline.md, "Latency and what it costs": the cost of each
//! choice).
//!
//! One user's data never stops another's reminders: an item of the index that cannot be read is
//! set aside (taken out of the index, logged as an error), and a shard that cannot be queried or
//! a reminder that cannot be recorded is logged and passed over while the rest of the run goes on;
//! the run then fails, so the invocation error shows on the function's alarms.

use chrono::Duration;
use std::time::Duration as StdDuration;
use todo_schema::limits::REMINDERS_MAX;
use todo_schema::{Actor, Timestamp};

use crate::store::StoreError;
use crate::store::item::REMINDER_SHARDS;
use crate::store::sweep::{Found, SweepReminders};

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
    /// Indexed items that could not be read, set aside out of the index.
    pub unreadable: usize,
    /// Shards or reminders passed over because the table failed (retried next run).
    pub failed: usize,
}

impl SweepReport {
    fn add(&mut self, other: &SweepReport) {
        self.found += other.found;
        self.recorded += other.recorded;
        self.late += other.late;
        self.skipped += other.skipped;
        self.unreadable += other.unreadable;
        self.failed += other.failed;
    }
}

/// A run that did what it could and then met a failure.
#[derive(Debug, thiserror::Error)]
#[error("reminder sweep: {failed} failures, first: {first}")]
pub struct SweepError {
    /// What the run did despite the failures.
    pub report: SweepReport,
    pub failed: usize,
    pub first: StoreError,
}

/// How often the deployed sweep sweeps within its minute.
pub const EVERY: StdDuration = StdDuration::from_secs(10);

/// Sweeps now and every `every` after, while the next sweep would start within `window` (the
/// part of a minute one invocation covers); a zero window sweeps once.
pub async fn sweep_for<S: SweepReminders>(
    store: &S,
    window: StdDuration,
    every: StdDuration,
) -> Result<SweepReport, SweepError> {
    let started = tokio::time::Instant::now();
    let mut total = SweepReport::default();
    let mut first_failure = None;
    loop {
        match sweep(store, Timestamp::now()).await {
            Ok(r) => total.add(&r),
            Err(e) => {
                total.add(&e.report);
                first_failure.get_or_insert(e.first);
            }
        }
        let next = tokio::time::Instant::now() + every;
        if next.duration_since(started) > window {
            return match first_failure {
                None => Ok(total),
                Some(first) => Err(SweepError {
                    failed: total.failed,
                    report: total,
                    first,
                }),
            };
        }
        tokio::time::sleep_until(next).await;
    }
}

/// One sweep at `now`: passes over the index until one records nothing (at most
/// [`REMINDERS_MAX`] + 1). A task records one reminder per write (one event per change, as
/// the outbox has it), so a task with several reminders due at once gets them all in this
/// sweep, one pass each, instead of one per sweep (minutes apart).
pub async fn sweep<S: SweepReminders>(
    store: &S,
    now: Timestamp,
) -> Result<SweepReport, SweepError> {
    let mut total = SweepReport::default();
    let mut first_failure = None;
    for _ in 0..=REMINDERS_MAX {
        let pass = match sweep_pass(store, now).await {
            Ok(pass) => pass,
            Err(e) => {
                first_failure.get_or_insert(e.first);
                e.report
            }
        };
        total.add(&pass);
        if pass.recorded == 0 {
            break;
        }
    }
    tracing::info!(report = ?total, "reminder sweep");
    todo_lambda::metrics::emit(
        "reminder-sweep",
        &[
            ("Applied", total.recorded),
            ("Late", total.late),
            ("Skipped", total.skipped),
            ("Unreadable", total.unreadable),
            ("Failed", total.failed),
        ],
    );
    match first_failure {
        None => Ok(total),
        Some(first) => Err(SweepError {
            failed: total.failed,
            report: total,
            first,
        }),
    }
}

/// One pass over every shard of the index at `now`.
async fn sweep_pass<S: SweepReminders>(
    store: &S,
    now: Timestamp,
) -> Result<SweepReport, SweepError> {
    let actor = Actor::System {
        id: SWEEP_ACTOR.to_string(),
    };
    let mut report = SweepReport::default();
    let mut first_failure = None;
    let mut fail = |report: &mut SweepReport, e: StoreError| {
        report.failed += 1;
        first_failure.get_or_insert(e);
    };
    for shard in 0..REMINDER_SHARDS {
        let found = match store.due_reminders(shard, now, PER_SHARD).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(shard, error = %e, "reminder shard not swept");
                fail(&mut report, e);
                continue;
            }
        };
        for f in found {
            let due = match f {
                Found::Due(due) => due,
                Found::Unreadable(item) => {
                    report.unreadable += 1;
                    tracing::error!(
                        pk = %item.pk, sk = %item.sk, reason = %item.reason,
                        "unreadable task item set aside from the reminders index"
                    );
                    if let Err(e) = store.set_aside(&item).await {
                        tracing::error!(error = %e, "unreadable item not set aside");
                        fail(&mut report, e);
                    }
                    continue;
                }
            };
            report.found += 1;
            let late = now.as_datetime() - due.at.as_datetime() > GRACE;
            match store.record_reminder(&due, late, &actor, now).await {
                Ok(true) => {
                    report.recorded += 1;
                    report.late += usize::from(late);
                }
                Ok(false) => report.skipped += 1,
                Err(e) => {
                    tracing::error!(task = %due.task.id, error = %e, "reminder not recorded");
                    fail(&mut report, e);
                }
            }
        }
    }
    match first_failure {
        None => Ok(report),
        Some(first) => Err(SweepError {
            failed: report.failed,
            report,
            first,
        }),
    }
}
