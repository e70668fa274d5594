//! `scripts/bench-sweep`: N reminders due at one instant, seeded straight into the tasks table
//! (spread over owners of 1 to 7 reminders each, and once more beside one heavy owner with
//! 1,500), recorded by the real sweep (`todo_tasks::sweep`) as deployed: a sweep at the instant,
//! then every [`EVERY`] while anything is left, each taking no new work once the next is due.
//!
//! The embedded DynamoDB engine runs in a child process (this binary with `--engine`) with a
//! DynamoDB round trip's latency on every call and AWS's per-partition limits (a key past 1,000
//! write units a second is throttled and the SDK retries, as in AWS). This process is then the
//! sweep function alone, so its CPU time is what the function would spend; the engine's is not
//! (in AWS, DynamoDB's own work costs the function only the round trip).
//!
//! With `--workers W` (W > 0) each sweep hands a burst to up to W workers as deployed
//! (`todo_tasks::sweep::sweep_or_hand_on`, past `--alone-up-to` reminders): each worker runs
//! on a thread of its own with its own runtime and DynamoDB client, as a worker invocation
//! would, and is timed by that thread's CPU; the workers' CPU per reminder then gives the time a
//! burst takes in AWS, where each worker has a vCPU of its own (at 1,769 MB) rather than a share
//! of this machine's two cores with the engine.
//!
//! Prints, per case: the time from the instant to the last reminder recorded and to the last of
//! the ordinary owners' (each write timed as it returns), the sweep's CPU time, and the busiest
//! second of the busiest key of the table and each index.
//!
//! Usage: `bench-sweep [--dynamodb-latency 5ms] [--workers 8] [--alone-up-to 1000] [N ...]`
//! (default 5ms, no workers; 1000 10000 100000).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant as StdInstant;

use todo_bench::engine_process::{ENGINE_ARG, Engine, cpu_seconds, thread_cpu_seconds};
use todo_local::dynamodb::latency::Latency;
use todo_local::dynamodb::report::CapacityReport;
use todo_schema::{Actor, Timestamp};
use todo_tasks::store::sweep::{DueReminder, Found, SweepReminders, Unreadable};
use todo_tasks::store::{DynamoTaskStore, StartKey, StoreError};
use todo_tasks::sweep::fanout::{Dispatch, DispatchError, Fanout, Part};
use todo_tasks::sweep::{EVERY, SweepReport, sweep_or_hand_on, sweep_part, sweep_until};

/// The heavy owner's reminders, as in issue #21's attack.
const HEAVY: usize = 1_500;

/// Owners for `n` reminders: owner i has 1 + i mod 7 of them (4 on average).
fn owners(n: usize, heavy: bool) -> Vec<String> {
    let mut owners = Vec::with_capacity(n);
    if heavy {
        owners.extend(std::iter::repeat_n("heavy".to_string(), HEAVY.min(n)));
    }
    let mut i = 0;
    while owners.len() < n {
        let take = (1 + i % 7).min(n - owners.len());
        owners.extend(std::iter::repeat_n(format!("user-{i}"), take));
        i += 1;
    }
    owners
}

/// When the burst fell due, and what has been recorded since: shared by the sweep and its
/// workers.
#[derive(Clone)]
struct Clock {
    due: chrono::DateTime<chrono::Utc>,
    /// To the last recorded, and to the last of an owner other than the heavy one.
    last: Arc<Mutex<(chrono::Duration, chrono::Duration)>>,
    recorded: Arc<AtomicUsize>,
}

/// The store, with each recorded reminder timed as its write returns.
struct Timed {
    store: DynamoTaskStore,
    clock: Clock,
}

impl SweepReminders for Timed {
    async fn due_page(
        &self,
        shard: u8,
        now: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<todo_lambda::cursor::Paged<Found>, StoreError> {
        self.store.due_page(shard, now, limit, start).await
    }

    async fn set_aside(&self, item: &Unreadable) -> Result<(), StoreError> {
        self.store.set_aside(item).await
    }

    async fn record_reminder(
        &self,
        due: &DueReminder,
        late: bool,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let recorded = self.store.record_reminder(due, late, actor, now).await?;
        if recorded {
            self.clock.recorded.fetch_add(1, Ordering::Relaxed);
            let at = chrono::Utc::now() - self.clock.due;
            let mut last = self.clock.last.lock().expect("last");
            last.0 = last.0.max(at);
            if due.task.owner != "heavy" {
                last.1 = last.1.max(at);
            }
        }
        Ok(recorded)
    }
}

/// One worker invocation's part, run to its end.
struct WorkerRun {
    recorded: usize,
    cpu: f64,
}

/// Workers as the deployed sweep's: each part on a thread of its own with its own runtime and
/// DynamoDB client (a worker invocation's), timed by that thread's CPU.
struct ThreadWorkers {
    endpoint: String,
    clock: Clock,
    runs: Arc<Mutex<Vec<WorkerRun>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Dispatch for ThreadWorkers {
    async fn dispatch(&self, part: &Part) -> Result<(), DispatchError> {
        let (part, endpoint, clock, runs) = (
            part.clone(),
            self.endpoint.clone(),
            self.clock.clone(),
            Arc::clone(&self.runs),
        );
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let cpu = thread_cpu_seconds();
                let client = aws_sdk_dynamodb::Client::new(
                    &todo_local::dynamodb::sdk_config(&endpoint).await,
                );
                let timed = Timed {
                    store: DynamoTaskStore::new(client, "TasksTable"),
                    clock,
                };
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
                let report = sweep_part(&timed, part, deadline)
                    .await
                    .expect("a good part");
                runs.lock().expect("runs").push(WorkerRun {
                    recorded: report.recorded,
                    cpu: thread_cpu_seconds() - cpu,
                });
            });
        });
        self.threads.lock().expect("threads").push(thread);
        Ok(())
    }
}

struct Outcome {
    sweeps: usize,
    /// Parts handed to workers, in all and in the first sweep.
    parts: usize,
    first_parts: usize,
    /// The first sweep's census and hand-over, wall time.
    first_sweep: f64,
    workers: Vec<WorkerRun>,
    report: SweepReport,
    last: chrono::Duration,
    last_ordinary: chrono::Duration,
    cpu: f64,
    /// Of a separate pass that only reads every due reminder.
    read_cpu: f64,
    capacity: CapacityReport,
}

async fn case(n: usize, heavy: bool, latency: &str, fanout: Fanout) -> Outcome {
    let mut engine = Engine::start().await;
    let endpoint = engine.endpoint.clone();
    let store = DynamoTaskStore::new(engine.client().await, "TasksTable");
    let created = Timestamp::now();
    // Every reminder is due a second after the seeding starts; the benchmark's instant is when
    // the seeding (and a reading pass) is over: from then on they are all due at once, as at
    // 9:00. (Past its grace period a reminder is recorded marked late: the same work.)
    let due = Timestamp::from_datetime(created.as_datetime() + chrono::Duration::seconds(1))
        .expect("an instant");
    store
        .seed_reminders(owners(n, heavy), due, created)
        .await
        .expect("seeded");
    engine.go(latency).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    // The CPU the reading alone takes: every page of every shard, once.
    let read_cpu = read_everything(&store, Timestamp::now()).await;
    let clock = Clock {
        due: chrono::Utc::now(),
        last: Arc::default(),
        recorded: Arc::default(),
    };
    let timed = Timed {
        store,
        clock: clock.clone(),
    };
    let workers = ThreadWorkers {
        endpoint,
        clock: clock.clone(),
        runs: Arc::default(),
        threads: Mutex::default(),
    };

    let cpu = cpu_seconds();
    let mut sweeps = 0;
    let (mut parts, mut first_parts, mut first_sweep) = (0, 0, 0.0);
    let mut report = SweepReport::default();
    let mut tick = tokio::time::Instant::now();
    loop {
        // As deployed: no new work once the next sweep is due.
        let started = StdInstant::now();
        let r = if fanout.workers == 0 {
            sweep_until(&timed, Timestamp::now(), Some(tick + EVERY)).await
        } else {
            sweep_or_hand_on(&timed, &workers, fanout, Timestamp::now(), tick + EVERY).await
        }
        .expect("a sweep");
        if sweeps == 0 {
            first_parts = r.dispatched;
            first_sweep = started.elapsed().as_secs_f64();
        }
        sweeps += 1;
        parts += r.dispatched;
        report.deferred += r.deferred;
        let done = clock.recorded.load(Ordering::Relaxed) >= n;
        if done || (r.found == 0 && r.deferred == 0 && r.dispatched == 0) {
            break;
        }
        tick += EVERY;
        tokio::time::sleep_until(tick).await;
    }
    for thread in workers.threads.lock().expect("threads").drain(..) {
        thread.join().expect("a worker");
    }
    report.recorded = clock.recorded.load(Ordering::Relaxed);
    let cpu = cpu_seconds() - cpu;
    let capacity = engine.capacity().await;
    engine.stop().await;
    let (last, last_ordinary) = *clock.last.lock().expect("last");
    let workers = std::mem::take(&mut *workers.runs.lock().expect("runs"));
    Outcome {
        sweeps,
        parts,
        first_parts,
        first_sweep,
        workers,
        report,
        last,
        last_ordinary,
        cpu,
        read_cpu,
        capacity,
    }
}

/// Reads every page of every shard due at `due` (as a sweep reads them, without writing) and
/// returns the CPU time it took.
async fn read_everything(store: &DynamoTaskStore, due: Timestamp) -> f64 {
    use futures_util::stream::{self, StreamExt};
    let cpu = cpu_seconds();
    stream::iter(0..todo_tasks::store::item::REMINDER_SHARDS)
        .for_each_concurrent(
            todo_tasks::sweep::SHARD_READS_IN_FLIGHT,
            |shard| async move {
                let mut start = None;
                loop {
                    let page = store
                        .due_page(shard, due, todo_tasks::sweep::PER_SHARD, start)
                        .await
                        .expect("a page");
                    match page.next {
                        Some(next) => start = Some(next),
                        None => break,
                    }
                }
            },
        )
        .await;
    cpu_seconds() - cpu
}

/// The busiest second of the busiest key of the tasks table and each of its indexes.
fn hottest(capacity: &CapacityReport) -> String {
    let mut groups: Vec<(Option<String>, String, f64, f64)> = Vec::new();
    for p in &capacity.partitions {
        let idx = p.partition.index.clone();
        let (w, r) = (p.write.peak_per_second, p.read.peak_per_second);
        match groups.iter_mut().find(|g| g.0 == idx) {
            Some(g) => {
                if w > g.2 {
                    g.1 = p.partition.key.clone();
                    g.2 = w;
                }
                g.3 = g.3.max(r);
            }
            None => groups.push((idx, p.partition.key.clone(), w, r)),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .iter()
        .map(|(idx, key, w, r)| {
            let key: String = key.chars().take(16).collect();
            format!(
                "{}: {w:.0} W ({key}), {r:.0} R",
                idx.as_deref().unwrap_or("table")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::main]
async fn main() {
    let mut latency = "5ms".to_string();
    let mut fanout = Fanout::ALONE;
    let mut sizes: Vec<usize> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            ENGINE_ARG => return todo_bench::engine_process::serve().await,
            "--dynamodb-latency" => {
                latency = args.next().expect("--dynamodb-latency 5ms");
                latency
                    .parse::<Latency>()
                    .expect("a latency: 5ms, 2ms..10ms");
            }
            "--workers" => {
                fanout.workers = args
                    .next()
                    .and_then(|w| w.parse().ok())
                    .expect("--workers 8");
                fanout.alone_up_to = fanout.alone_up_to.min(1_000);
            }
            "--alone-up-to" => {
                fanout.alone_up_to = args
                    .next()
                    .and_then(|w| w.parse().ok())
                    .expect("--alone-up-to 1000");
            }
            n => sizes.push(n.parse().expect("N: a whole number")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000];
    }
    println!(
        "DynamoDB latency per call: {latency}; AWS's partition limits; a sweep every {EVERY:?}; {}\n",
        match fanout.workers {
            0 => "the sweep alone".to_string(),
            w => format!("up to {w} workers past {} reminders", fanout.alone_up_to),
        }
    );
    println!(
        "| reminders due at once | owners | sweeps | parts handed on (first sweep) | recorded | to the last recorded | to the last of the others | sweep CPU | of which reading (alone) | workers' CPU a reminder | in AWS at 1,769 MB (projected) | throttled | busiest second per key (units) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let millis: f64 = latency
        .trim_end_matches("ms")
        .split("..")
        .last()
        .and_then(|l| l.parse().ok())
        .unwrap_or(5.0);
    for n in sizes {
        for heavy in [false, true] {
            let started = StdInstant::now();
            let o = case(n, heavy, &latency, fanout).await;
            let secs = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
            let worker_cpu: f64 = o.workers.iter().map(|w| w.cpu).sum();
            let worker_recorded: usize = o.workers.iter().map(|w| w.recorded).sum();
            let sweep_cpu = o.cpu - worker_cpu;
            let (per_reminder, projected) = if worker_recorded == 0 {
                ("-".to_string(), "-".to_string())
            } else {
                // Each worker has a vCPU of its own at 1,769 MB: the first sweep's census and
                // hand-over, then its share of the burst at the CPU a reminder measured here, or
                // at its round trips (64 writes in flight) if those take longer.
                let per = worker_cpu / worker_recorded as f64;
                let share = n as f64 / o.first_parts.max(1) as f64;
                let work = (share * per).max(share * millis / 1000.0 / 64.0);
                (
                    format!("{:.2} ms", per * 1000.0),
                    format!("{:.1} s", o.first_sweep + work),
                )
            };
            println!(
                "| {n} | {} | {} | {} ({}) | {} | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {per_reminder} | {projected} | {} | {} |",
                if heavy {
                    "1 with 1,500, others 1-7"
                } else {
                    "1-7 each"
                },
                o.sweeps,
                o.parts,
                o.first_parts,
                o.report.recorded,
                secs(o.last),
                secs(o.last_ordinary),
                sweep_cpu,
                o.read_cpu,
                o.capacity.throttled_requests,
                hottest(&o.capacity),
            );
            eprintln!("(case took {:.0} s)", started.elapsed().as_secs_f64());
        }
    }
}
