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
//! Prints, per case: the time from the instant to the last reminder recorded and to the last of
//! the ordinary owners' (each write timed as it returns), the sweep's CPU time, and the busiest
//! second of the busiest key of the table and each index.
//!
//! Usage: `bench-sweep [--dynamodb-latency 5ms] [N ...]` (default 5ms; 1000 10000 100000).

use std::sync::Mutex;
use std::time::Instant as StdInstant;

use todo_bench::engine_process::{ENGINE_ARG, Engine, cpu_seconds};
use todo_local::dynamodb::latency::Latency;
use todo_local::dynamodb::report::CapacityReport;
use todo_schema::{Actor, Timestamp};
use todo_tasks::store::sweep::{DueReminder, Found, SweepReminders, Unreadable};
use todo_tasks::store::{DynamoTaskStore, StartKey, StoreError};
use todo_tasks::sweep::{EVERY, SweepReport, sweep_until};

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

/// The store, with each recorded reminder timed as its write returns.
struct Timed {
    store: DynamoTaskStore,
    due: chrono::DateTime<chrono::Utc>,
    /// To the last recorded, and to the last of an owner other than the heavy one.
    last: Mutex<(chrono::Duration, chrono::Duration)>,
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
            let at = chrono::Utc::now() - self.due;
            let mut last = self.last.lock().expect("last");
            last.0 = last.0.max(at);
            if due.task.owner != "heavy" {
                last.1 = last.1.max(at);
            }
        }
        Ok(recorded)
    }
}

struct Outcome {
    sweeps: usize,
    report: SweepReport,
    last: chrono::Duration,
    last_ordinary: chrono::Duration,
    cpu: f64,
    /// Of a separate pass that only reads every due reminder.
    read_cpu: f64,
    capacity: CapacityReport,
}

async fn case(n: usize, heavy: bool, latency: &str) -> Outcome {
    let mut engine = Engine::start().await;
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
    let instant = chrono::Utc::now();
    let timed = Timed {
        store,
        due: instant,
        last: Mutex::default(),
    };

    let cpu = cpu_seconds();
    let mut sweeps = 0;
    let mut report = SweepReport::default();
    let mut tick = tokio::time::Instant::now();
    loop {
        // As deployed: no new work once the next sweep is due.
        let r = sweep_until(&timed, Timestamp::now(), Some(tick + EVERY))
            .await
            .expect("a sweep");
        sweeps += 1;
        report.recorded += r.recorded;
        report.deferred += r.deferred;
        if (r.found == 0 && r.deferred == 0) || report.recorded >= n {
            break;
        }
        tick += EVERY;
        tokio::time::sleep_until(tick).await;
    }
    let cpu = cpu_seconds() - cpu;
    let capacity = engine.capacity().await;
    engine.stop().await;
    let (last, last_ordinary) = *timed.last.lock().expect("last");
    Outcome {
        sweeps,
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
            n => sizes.push(n.parse().expect("N: a whole number")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000];
    }
    println!(
        "DynamoDB latency per call: {latency}; AWS's partition limits; a sweep every {EVERY:?}\n"
    );
    println!(
        "| reminders due at once | owners | sweeps | recorded | to the last recorded | to the last of the others | sweep CPU | of which reading (alone) | throttled | busiest second per key (units) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        for heavy in [false, true] {
            let started = StdInstant::now();
            let o = case(n, heavy, &latency).await;
            let secs = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
            println!(
                "| {n} | {} | {} | {} | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {} | {} |",
                if heavy {
                    "1 with 1,500, others 1-7"
                } else {
                    "1-7 each"
                },
                o.sweeps,
                o.report.recorded,
                secs(o.last),
                secs(o.last_ordinary),
                o.cpu,
                o.read_cpu,
                o.capacity.throttled_requests,
                hottest(&o.capacity),
            );
            eprintln!("(case took {:.0} s)", started.elapsed().as_secs_f64());
        }
    }
}
