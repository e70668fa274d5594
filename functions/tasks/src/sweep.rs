//! The reminder sweep (scheduled every minute): records a `reminder.due` event on each task
//! whose next reminder has come, which the outbox carries to `todo.reminders`.
//!
//! A sweep scales out: it pages through the index's [`REMINDER_SHARDS`] shards,
//! [`SHARD_READS_IN_FLIGHT`] at a time, and records reminders with up to [`WRITES_IN_FLIGHT`]
//! conditional writes at once, until everything due is recorded or its deadline comes. What it
//! does not reach stays in the index and the next sweep records it: nothing is lost. A reminder
//! found more than [`GRACE`] after its time is still delivered, marked late.
//!
//! A sweep is fair between owners ([`turns`]): owners take turns, each with at most
//! [`PER_OWNER_IN_FLIGHT`] writes in flight and [`OWNER_SHARE`] reminders a sweep, so one owner's
//! thousands of due reminders never hold back another owner's one.
//!
//! The schedule starts one invocation a minute; [`sweep_for`] sweeps at its start and every
//! [`EVERY`] after, up to its window. The deployed window is 50 s (sweeps at 0, 10, ..., 50 s):
//! a reminder waits at most the 10 s to the next sweep, plus that sweep's own time, inside the
//! 30 s promise (docs/pipeline.md, "Latency and what it costs": the cost of each choice).
//!
//! One user's data never stops another's reminders: an item of the index that cannot be read is
//! set aside (taken out of the index, logged as an error), and a shard that cannot be queried or
//! a reminder that cannot be recorded is logged and passed over while the rest of the run goes on;
//! the run then fails, so the invocation error shows on the function's alarms.

pub mod fanout;
pub mod invoke;
pub mod turns;

use std::collections::{HashSet, VecDeque};
use std::time::Duration as StdDuration;

use chrono::Duration;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::user_pk;
use todo_schema::{Actor, TaskId, Timestamp};
use tokio::time::Instant;

use crate::store::StoreError;
use crate::store::item::REMINDER_SHARDS;
use crate::store::sweep::{DueReminder, Found, SweepReminders, Unreadable};
use fanout::{Dispatch, Fanout, Part, Seen};
use turns::{Queued, Turns};

/// Index entries read per Query: one page of one shard. The sweep pages on to the shard's end.
pub const PER_SHARD: i32 = 100;
/// Shards read at once. 128 shards at 5 ms a Query take 40 ms a round at this bound; more would
/// only queue reminders faster than the writes record them.
pub const SHARD_READS_IN_FLIGHT: usize = 16;
/// Reminder writes in flight at once, for the whole sweep: at 5 ms a write, 100,000 reminders
/// due at one instant need 7.8 s of round trips (100,000 x 5 ms / 64). The sweep is bound by its
/// CPU long before that: each write costs about 0.65 ms of a core in the SDK's request path
/// (`scripts/bench-sweep`), so its memory, which buys its CPU, sets how many reminders a second
/// it records (`SweepMemorySize`; docs/capacity.md, "The reminder sweep at a burst").
pub const WRITES_IN_FLIGHT: usize = 64;
/// One owner's writes in flight at once. All of an owner's tasks share one partition key of the
/// table, and each reminder recorded writes the task, its four local indexes and its `changes`
/// entry (about 10 write units): a partition's 1,000 write units a second are about 100
/// reminders a second. More at once would only be throttled, and would take slots another owner
/// could use.
pub const PER_OWNER_IN_FLIGHT: usize = 4;
/// Reminders one owner gets recorded in one sweep: about what the owner's partition takes in the
/// 10 s between sweeps (100 a second, see [`PER_OWNER_IN_FLIGHT`]). The rest stay in the index
/// for the next sweep, so one owner's volume never fills the sweep's queue.
pub const OWNER_SHARE: usize = 1_000;
/// Reminders read and waiting for their turn, at most: reading pauses above it, so a sweep's
/// memory stays bounded (a task is a few KB) however many reminders are due. A worker's part
/// reads ahead its share of it (at least [`PART_QUEUED_MIN`]): what is read and not recorded
/// by the next sweep is read again there, so the parts together read ahead no more than one
/// sweep would.
pub const QUEUED_MAX: usize = 5_000;
/// The least a part reads ahead: five pages, more than a worker records while the next pages
/// come back.
pub const PART_QUEUED_MIN: usize = 500;
/// Delivered later than this after its time, a reminder is marked late.
pub const GRACE: Duration = Duration::minutes(2);
/// The actor of reminder events.
pub const SWEEP_ACTOR: &str = "reminder-sweep";

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Reminders found due and taken in hand this run.
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
    /// Reminders left in the index for the next run: their owner's share of this one was used,
    /// or its deadline came.
    pub deferred: usize,
    /// Parts of the sweep handed to worker invocations ([`fanout`]).
    pub dispatched: usize,
    /// Parts that could not be handed on, swept by the sweep itself (the run then fails, so
    /// the invocation error shows on the function's alarms).
    pub undispatched: usize,
}

impl SweepReport {
    fn add(&mut self, other: &SweepReport) {
        self.found += other.found;
        self.recorded += other.recorded;
        self.late += other.late;
        self.skipped += other.skipped;
        self.unreadable += other.unreadable;
        self.failed += other.failed;
        self.deferred += other.deferred;
        self.dispatched += other.dispatched;
        self.undispatched += other.undispatched;
    }
}

/// A run that did what it could and then met a failure.
#[derive(Debug, thiserror::Error)]
#[error("reminder sweep: {failed} failures, {} parts not handed on, first: {first}", report.undispatched)]
pub struct SweepError {
    /// What the run did despite the failures.
    pub report: SweepReport,
    pub failed: usize,
    pub first: Failure,
}

/// What went wrong first in a run.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dispatch(#[from] fanout::DispatchError),
}

/// How often the deployed sweep sweeps within its minute.
pub const EVERY: StdDuration = StdDuration::from_secs(10);

/// Sweeps now and every `every` after, while the next sweep would start within `window` (the
/// part of a minute one invocation covers); a zero window sweeps once. The sweeps keep to their
/// times: one that overran the next one's time is followed at once, not a whole `every` later.
pub async fn sweep_for<S: SweepReminders + Sync>(
    store: &S,
    window: StdDuration,
    every: StdDuration,
) -> Result<SweepReport, SweepError> {
    sweep_for_until(store, &fanout::Alone, Fanout::ALONE, window, every, None).await
}

/// [`sweep_for`] within the invocation's `deadline`: no sweep starts, and no sweep takes new
/// work, after it; a sweep that finds more due than it records alone hands it to workers
/// ([`sweep_or_hand_on`]).
///
/// A sweep also takes no new work once the next one is due (`every` after its start): what it
/// has not reached stays in the index, and the next sweep reads every shard afresh, so a
/// reminder that came due meanwhile gets its owner's turn there. Without that bound, one owner's
/// backlog would keep a sweep busy for its whole share (a thousand writes) while every other
/// owner's reminders that came due after it started waited for it to end.
pub async fn sweep_for_until<S: SweepReminders + Sync, D: Dispatch + Sync>(
    store: &S,
    workers: &D,
    fanout: Fanout,
    window: StdDuration,
    every: StdDuration,
    deadline: Option<Instant>,
) -> Result<SweepReport, SweepError> {
    let started = Instant::now();
    let mut next = started;
    let mut total = SweepReport::default();
    let mut first_failure = None;
    loop {
        let next_due = Instant::now() + every;
        let until = deadline.map_or(next_due, |d| d.min(next_due));
        match sweep_or_hand_on(store, workers, fanout, Timestamp::now(), until).await {
            Ok(r) => total.add(&r),
            Err(e) => {
                total.add(&e.report);
                first_failure.get_or_insert(e.first);
            }
        }
        next += every;
        let start = next.max(Instant::now());
        if next.duration_since(started) > window || deadline.is_some_and(|d| start >= d) {
            return outcome(total, first_failure);
        }
        tokio::time::sleep_until(start).await;
    }
}

/// One sweep at `now`, to the end of every shard.
pub async fn sweep<S: SweepReminders + Sync>(
    store: &S,
    now: Timestamp,
) -> Result<SweepReport, SweepError> {
    sweep_until(store, now, None).await
}

/// One sweep at `now`: every shard paged through, every reminder due recorded, a task with
/// several reminders due at once getting them all, each its own write (one event per change, as
/// the outbox has it) in order; no new work is taken after `deadline`.
pub async fn sweep_until<S: SweepReminders + Sync>(
    store: &S,
    now: Timestamp,
    deadline: Option<Instant>,
) -> Result<SweepReport, SweepError> {
    let mut run = Run::new(store, now, Scope::whole(now));
    run.go(deadline).await;
    finish_run(run, "reminder sweep")
}

/// One sweep at `now` that hands a burst on: with workers, it reads the first page of every
/// shard (its census), and when more is due than `fanout` has it record alone, it splits the shards
/// among workers ([`fanout::plan`]), each to sweep until `until`, and sweeps itself only the
/// parts it could not hand on. Otherwise it records what it read, reading nothing twice.
pub async fn sweep_or_hand_on<S: SweepReminders + Sync, D: Dispatch + Sync>(
    store: &S,
    workers: &D,
    fanout: Fanout,
    now: Timestamp,
    until: Instant,
) -> Result<SweepReport, SweepError> {
    if fanout.workers == 0 {
        // Alone, the reads and the writes go side by side from the start.
        return sweep_until(store, now, Some(until)).await;
    }
    let scope = Scope::whole(now);
    let pages = census(store, now, &scope.shards).await;
    let seen: Vec<Seen> = pages
        .iter()
        .map(|(shard, page)| Seen {
            shard: *shard,
            due: page.as_ref().map_or(0, |p| p.items.len()),
            more: page.as_ref().is_ok_and(|p| p.next.is_some()),
        })
        .collect();
    let planned = fanout::plan(&seen, fanout);
    if planned.is_empty() {
        let mut run = Run::new(store, now, scope).with_pages(pages);
        run.go(Some(until)).await;
        return finish_run(run, "reminder sweep");
    }
    let parts = planned.len();
    let until_ms = todo_lambda::deadline::epoch_ms_of(until);
    let handed = futures_util::future::join_all(planned.into_iter().map(|shards| async move {
        let part = Part {
            shards,
            parts,
            now,
            until_ms,
        };
        let result = workers.dispatch(&part).await;
        (part, result)
    }))
    .await;
    let mut dispatched = 0;
    let mut failures = Vec::new();
    // A shard the census could not read stays the sweep's own: its failure is reported there.
    let mut left: Vec<u8> = pages
        .iter()
        .filter(|(_, page)| page.is_err())
        .map(|(shard, _)| *shard)
        .collect();
    for (part, result) in handed {
        match result {
            Ok(()) => dispatched += 1,
            Err(e) => {
                tracing::error!(error = %e, shards = ?part.shards, "sweeping a part itself");
                left.extend(part.shards);
                failures.push(e);
            }
        }
    }
    let scope = Scope::part(left, parts);
    let pages = pages
        .into_iter()
        .filter(|(shard, _)| scope.shards.contains(shard))
        .collect();
    let mut run = Run::new(store, now, scope).with_pages(pages);
    run.report.dispatched = dispatched;
    run.report.undispatched = failures.len();
    if let Some(e) = failures.into_iter().next() {
        run.first_failure.get_or_insert(e.into());
    }
    run.go(Some(until)).await;
    finish_run(run, "reminder sweep")
}

/// A worker's sweep of its part ([`fanout`]), at its own clock: [`sweep_part_at`] now.
pub async fn sweep_part<S: SweepReminders + Sync>(
    store: &S,
    part: Part,
    deadline: Instant,
) -> Result<SweepReport, PartError> {
    sweep_part_at(store, part, Timestamp::now(), deadline).await
}

/// A worker's sweep of its part, its clock reading `clock`: the part's shards, with each
/// owner's share and writes in flight divided among the parts, until the part's `until_ms`, the
/// invocation's `deadline` or [`EVERY`] from now, whichever comes first. A part that arrives
/// after its time does nothing: the sweeps since have read its shards afresh. A part whose
/// instant is ahead of the clock is refused (it would record reminders before their time). A
/// part that met failures fails (its shards are swept again by the next sweep; the worker's
/// error alarm shows it).
pub async fn sweep_part_at<S: SweepReminders + Sync>(
    store: &S,
    part: Part,
    clock: Timestamp,
    deadline: Instant,
) -> Result<SweepReport, PartError> {
    part.check(clock)?;
    let until = todo_lambda::deadline::at_epoch_ms(part.until_ms)
        .min(deadline)
        .min(Instant::now() + EVERY);
    if until <= Instant::now() {
        tracing::warn!(
            until_ms = part.until_ms,
            "a sweep part past its time, left to the sweeps since"
        );
        return Ok(SweepReport::default());
    }
    let mut run = Run::new(store, part.now, Scope::part(part.shards, part.parts));
    run.go(Some(until)).await;
    Ok(finish_run(run, "reminder sweep part")?)
}

/// Why a worker's part failed.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("a bad sweep part: {0}")]
    Bad(#[from] fanout::BadPart),
    #[error(transparent)]
    Swept(#[from] SweepError),
}

/// The first page of each of `shards`, [`SHARD_READS_IN_FLIGHT`] at a time.
async fn census<S: SweepReminders + Sync>(
    store: &S,
    now: Timestamp,
    shards: &[u8],
) -> Vec<(u8, Result<Paged<Found>, StoreError>)> {
    futures_util::stream::iter(shards.iter().copied())
        .map(|shard| async move { (shard, store.due_page(shard, now, PER_SHARD, None).await) })
        .buffer_unordered(SHARD_READS_IN_FLIGHT)
        .collect()
        .await
}

fn finish_run<S>(run: Run<'_, S>, what: &str) -> Result<SweepReport, SweepError> {
    let Run {
        report,
        first_failure,
        ..
    } = run;
    tracing::info!(?report, "{what}");
    todo_lambda::metrics::emit(
        "reminder-sweep",
        &[
            ("Applied", report.recorded),
            ("Late", report.late),
            ("Skipped", report.skipped),
            ("Unreadable", report.unreadable),
            ("Failed", report.failed),
            ("Deferred", report.deferred),
            ("Dispatched", report.dispatched),
            ("Undispatched", report.undispatched),
        ],
    );
    outcome(report, first_failure)
}

fn outcome(report: SweepReport, first: Option<Failure>) -> Result<SweepReport, SweepError> {
    match first {
        None => Ok(report),
        Some(first) => Err(SweepError {
            failed: report.failed,
            report,
            first,
        }),
    }
}

/// A piece of a sweep's work on one owner's task.
enum Work {
    Record(DueReminder),
    SetAside(Unreadable),
}

/// What finished.
enum Done {
    Page(u8, Result<Paged<Found>, StoreError>),
    /// A reminder's write, whether it was late, and its outcome.
    Recorded(String, Box<DueReminder>, bool, Result<bool, StoreError>),
    SetAside(String, Result<(), StoreError>),
    /// The deadline came while work was in flight.
    Deadline,
}

/// What one sweep covers: its shards, in the order it reads them, and each owner's bounds in it.
struct Scope {
    shards: Vec<u8>,
    per_owner: usize,
    share: usize,
    queued_max: usize,
}

impl Scope {
    /// Every shard, with the whole of each owner's bounds. Each sweep starts at another shard:
    /// a sweep that stops taking work when the next is due may not read every shard under a
    /// burst, and the next then starts elsewhere rather than always behind the same ones.
    fn whole(now: Timestamp) -> Self {
        let first =
            (now.as_datetime().timestamp_subsec_micros() % u32::from(REMINDER_SHARDS)) as u8;
        Self {
            shards: (0..REMINDER_SHARDS)
                .map(|i| (i + first) % REMINDER_SHARDS)
                .collect(),
            per_owner: PER_OWNER_IN_FLIGHT,
            share: OWNER_SHARE,
            queued_max: QUEUED_MAX,
        }
    }

    /// One of `parts` parts: `shards`, with each owner's bounds divided among the parts.
    fn part(shards: Vec<u8>, parts: usize) -> Self {
        let parts = parts.max(1);
        Self {
            shards,
            per_owner: (PER_OWNER_IN_FLIGHT / parts).max(1),
            share: (OWNER_SHARE / parts).max(1),
            queued_max: (QUEUED_MAX / parts).max(PART_QUEUED_MIN),
        }
    }
}

/// One sweep in progress: the shards still to read, the owners' turns, what is in flight.
struct Run<'a, S> {
    store: &'a S,
    now: Timestamp,
    actor: Actor,
    /// Shards whose next page is to be read, and where it starts.
    shards: VecDeque<(u8, Option<StartKey>)>,
    turns: Turns<Work>,
    /// Reminders read ahead at most ([`QUEUED_MAX`]).
    queued_max: usize,
    /// Tasks queued or being written: a task's following reminder comes from its own write, so
    /// the same task read again on a later page is not queued twice.
    active: HashSet<(String, TaskId)>,
    reads: usize,
    writes: usize,
    report: SweepReport,
    first_failure: Option<Failure>,
}

impl<'a, S: SweepReminders + Sync> Run<'a, S> {
    fn new(store: &'a S, now: Timestamp, scope: Scope) -> Self {
        Self {
            store,
            now,
            actor: Actor::System {
                id: SWEEP_ACTOR.to_string(),
            },
            shards: scope
                .shards
                .into_iter()
                .map(|shard| (shard, None))
                .collect(),
            turns: Turns::new(scope.per_owner, scope.share),
            queued_max: scope.queued_max,
            active: HashSet::new(),
            reads: 0,
            writes: 0,
            report: SweepReport::default(),
            first_failure: None,
        }
    }

    /// The run with these shards' first pages already read (by a census).
    fn with_pages(mut self, pages: Vec<(u8, Result<Paged<Found>, StoreError>)>) -> Self {
        for (shard, page) in pages {
            self.shards.retain(|(s, _)| *s != shard);
            self.reads += 1;
            self.finish(Done::Page(shard, page));
        }
        self
    }

    async fn go(&mut self, deadline: Option<Instant>) {
        let mut in_flight: FuturesUnordered<BoxFuture<'a, Done>> = FuturesUnordered::new();
        loop {
            let open = deadline.is_none_or(|d| Instant::now() < d);
            if open {
                self.start(&mut in_flight);
            } else {
                // What is queued stays in the index for the next sweep.
                self.report.deferred += self.turns.drain();
                self.shards.clear();
            }
            let next = match deadline.filter(|_| open) {
                Some(d) => tokio::time::timeout_at(d, in_flight.next())
                    .await
                    .unwrap_or(Some(Done::Deadline)),
                None => in_flight.next().await,
            };
            match next {
                Some(done) => self.finish(done),
                None => return,
            }
        }
    }

    /// Starts what the bounds allow: page reads while the queue has room, then writes in turn.
    fn start(&mut self, in_flight: &mut FuturesUnordered<BoxFuture<'a, Done>>) {
        while self.reads < SHARD_READS_IN_FLIGHT && self.turns.queued() < self.queued_max {
            let Some((shard, start)) = self.shards.pop_front() else {
                break;
            };
            self.reads += 1;
            let (store, now) = (self.store, self.now);
            in_flight.push(Box::pin(async move {
                Done::Page(shard, store.due_page(shard, now, PER_SHARD, start).await)
            }));
        }
        while self.writes < WRITES_IN_FLIGHT {
            let Some((owner, work)) = self.turns.take_turn() else {
                break;
            };
            self.writes += 1;
            let store = self.store;
            in_flight.push(match work {
                Work::Record(due) => {
                    let late = self.now.as_datetime() - due.at.as_datetime() > GRACE;
                    let (actor, now) = (self.actor.clone(), self.now);
                    Box::pin(async move {
                        let result = store.record_reminder(&due, late, &actor, now).await;
                        Done::Recorded(owner, Box::new(due), late, result)
                    })
                }
                Work::SetAside(item) => {
                    Box::pin(async move { Done::SetAside(owner, store.set_aside(&item).await) })
                }
            });
        }
    }

    fn finish(&mut self, done: Done) {
        match done {
            Done::Page(shard, page) => {
                self.reads -= 1;
                match page {
                    Ok(page) => {
                        if let Some(next) = page.next {
                            self.shards.push_back((shard, Some(next)));
                        }
                        for found in page.items {
                            self.queue(found);
                        }
                    }
                    Err(e) => {
                        tracing::error!(shard, error = %e, "reminder shard not swept");
                        self.fail(e);
                    }
                }
            }
            Done::Deadline => {}
            Done::Recorded(owner, due, late, result) => {
                self.writes -= 1;
                self.turns.done(&owner);
                let key = (owner.clone(), due.task.id);
                match result {
                    Ok(true) => {
                        self.report.recorded += 1;
                        self.report.late += usize::from(late);
                        // The task's following reminder, when it is due too, in this sweep.
                        match due.next().filter(|at| *at <= self.now) {
                            Some(at) => {
                                self.queue_due(owner, DueReminder { at, ..*due });
                            }
                            None => {
                                self.active.remove(&key);
                            }
                        }
                    }
                    Ok(false) => {
                        self.report.skipped += 1;
                        self.active.remove(&key);
                    }
                    Err(e) => {
                        tracing::error!(task = %due.task.id, error = %e, "reminder not recorded");
                        self.active.remove(&key);
                        self.fail(e);
                    }
                }
            }
            Done::SetAside(owner, result) => {
                self.writes -= 1;
                self.turns.done(&owner);
                if let Err(e) = result {
                    tracing::error!(error = %e, "unreadable item not set aside");
                    self.fail(e);
                }
            }
        }
    }

    /// Queues what a page found, in its owner's turn.
    fn queue(&mut self, found: Found) {
        match found {
            Found::Due(due) => {
                let owner = user_pk(&due.task.owner);
                if self.active.contains(&(owner.clone(), due.task.id)) {
                    // Already on its way: its write brings the following reminder.
                    return;
                }
                self.queue_due(owner, due);
            }
            Found::Unreadable(item) => {
                self.report.unreadable += 1;
                tracing::error!(
                    pk = %item.pk, sk = %item.sk, reason = %item.reason,
                    "unreadable task item set aside from the reminders index"
                );
                // Once per item, and never a reminder: not counted against its owner's share.
                let owner = item.pk.clone();
                self.turns.push(&owner, Work::SetAside(item), true);
            }
        }
    }

    fn queue_due(&mut self, owner: String, due: DueReminder) {
        let key = (owner.clone(), due.task.id);
        match self.turns.push(&owner, Work::Record(due), false) {
            Queued::Yes => {
                self.report.found += 1;
                self.active.insert(key);
            }
            Queued::OverShare => {
                self.report.deferred += 1;
                self.active.remove(&key);
            }
        }
    }

    fn fail(&mut self, e: impl Into<Failure>) {
        self.report.failed += 1;
        self.first_failure.get_or_insert(e.into());
    }
}
