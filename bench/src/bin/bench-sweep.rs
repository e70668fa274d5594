//! `scripts/bench-sweep`: N reminders due at one instant, seeded straight into the tasks table
//! (spread over owners of 1 to 7 reminders each, and once more beside one heavy owner with
//! 1,500), recorded by the real sweep (`todo_tasks::sweep`) as deployed: a sweep at the instant,
//! then every [`EVERY`] while anything is left, each taking no new work once the next is due,
//! against the embedded DynamoDB engine with a DynamoDB round trip's latency on every call and
//! AWS's per-partition limits (a key past 1,000 write units a second is throttled and the SDK
//! retries, as in AWS).
//!
//! Prints, per case, the time from the instant to the last reminder recorded (each write timed
//! as it reaches the table's stream, to 50 ms), to the last of the ordinary owners' reminders,
//! and the busiest second of the busiest key of the table and each index.
//!
//! Usage: `bench-sweep [--dynamodb-latency 5ms] [N ...]` (default 5ms; 1000 10000 100000).

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::dynamodb::accounting::PartitionLimits;
use todo_local::dynamodb::latency::Latency;
use todo_local::dynamodb::report::CapacityReport;
use todo_local::streams::StreamCursor;
use todo_schema::Timestamp;
use todo_tasks::store::DynamoTaskStore;
use todo_tasks::sweep::{EVERY, SweepReport, sweep_until};

/// The heavy owner's reminders, as in issue #21's attack.
const HEAVY: usize = 1_500;
/// How often the stream is read to time each write.
const WATCH_EVERY: StdDuration = StdDuration::from_millis(50);

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

struct Outcome {
    sweeps: usize,
    report: SweepReport,
    /// From the instant to the last reminder recorded.
    last: chrono::Duration,
    /// The same for the owners other than the heavy one.
    last_ordinary: chrono::Duration,
    capacity: CapacityReport,
}

/// When each `reminder.due` record reached the stream, by owner: (heavy?, time after `due`).
#[derive(Default)]
struct Seen {
    count: usize,
    last: chrono::Duration,
    last_ordinary: chrono::Duration,
}

/// Reads the stream every [`WATCH_EVERY`] and times each new reminder event.
fn watch(
    engine: &EmbeddedDynamo,
    due: Timestamp,
    seen: Arc<Mutex<Seen>>,
) -> tokio::task::JoinHandle<()> {
    let db = engine.database().clone();
    let mut cursor = StreamCursor::new("TasksTable", None);
    // The seeding's own records are not reminders: skip them once.
    let _ = cursor.read_new(&db);
    tokio::spawn(async move {
        loop {
            let records = cursor.read_new(&db).expect("the stream");
            let at = chrono::Utc::now() - due.as_datetime();
            {
                let mut seen = seen.lock().expect("seen");
                for r in records
                    .iter()
                    .filter(|r| r["dynamodb"]["NewImage"]["ev_type"]["S"] == "reminder.due")
                {
                    seen.count += 1;
                    seen.last = seen.last.max(at);
                    if r["dynamodb"]["NewImage"]["owner"]["S"] != "heavy" {
                        seen.last_ordinary = seen.last_ordinary.max(at);
                    }
                }
            }
            tokio::time::sleep(WATCH_EVERY).await;
        }
    })
}

async fn case(n: usize, heavy: bool, latency: Option<Latency>) -> Outcome {
    let engine = EmbeddedDynamo::start_in_memory().await.expect("engine");
    let store = DynamoTaskStore::new(engine.client().await, "TasksTable");
    let created = Timestamp::now();
    // Far enough ahead for the seeding to finish first.
    let lead = chrono::Duration::seconds(5 + (n / 5_000) as i64);
    let due = Timestamp::from_datetime(created.as_datetime() + lead).expect("an instant");
    store
        .seed_reminders(owners(n, heavy), due, created)
        .await
        .expect("seeded");
    // From here on, each call costs what it costs in AWS, and a hot key is throttled.
    engine.set_latency(latency);
    engine.set_partition_limits(Some(PartitionLimits::default()));
    engine.reset_capacity();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = watch(&engine, due, seen.clone());
    let wait = (due.as_datetime() - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;

    let mut sweeps = 0;
    let mut report = SweepReport::default();
    let mut tick = tokio::time::Instant::now();
    loop {
        // As deployed: no new work once the next sweep is due.
        let r = sweep_until(&store, Timestamp::now(), Some(tick + EVERY))
            .await
            .expect("a sweep");
        sweeps += 1;
        report.recorded += r.recorded;
        report.deferred += r.deferred;
        report.failed += r.failed;
        if (r.found == 0 && r.deferred == 0) || report.recorded >= n {
            break;
        }
        tick += EVERY;
        tokio::time::sleep_until(tick).await;
    }
    // Let the watcher see the last writes.
    tokio::time::sleep(WATCH_EVERY * 3).await;
    watcher.abort();
    let seen = seen.lock().expect("seen");
    assert_eq!(
        seen.count, report.recorded,
        "every recorded reminder is on the stream"
    );
    Outcome {
        sweeps,
        last: seen.last,
        last_ordinary: seen.last_ordinary,
        report,
        capacity: engine.capacity(),
    }
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
            let key: String = key.chars().take(20).collect();
            format!(
                "{}: {w:.0} W/s ({key}), {r:.0} R/s",
                idx.as_deref().unwrap_or("table")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::main]
async fn main() {
    let mut latency: Option<Latency> = Some("5ms".parse().expect("a latency"));
    let mut sizes: Vec<usize> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dynamodb-latency" => {
                let v = args.next().expect("--dynamodb-latency 5ms (or 0ms)");
                latency = Some(v.parse().expect("a latency: 5ms, 2ms..10ms"));
            }
            n => sizes.push(n.parse().expect("N: a whole number")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000];
    }
    println!(
        "DynamoDB latency per call: {latency:?}; AWS's partition limits; a sweep every {EVERY:?}\n"
    );
    println!(
        "| reminders due at once | owners | sweeps | recorded | to the last recorded | to the last of the ordinary owners | throttled requests | busiest second per key |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for n in sizes {
        for heavy in [false, true] {
            let o = case(n, heavy, latency).await;
            let secs = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
            println!(
                "| {n} | {} | {} | {} | {:.1} s | {:.1} s | {} | {} |",
                if heavy {
                    "1 with 1,500, the rest 1-7 each"
                } else {
                    "1-7 each"
                },
                o.sweeps,
                o.report.recorded,
                secs(o.last),
                secs(o.last_ordinary),
                o.capacity.throttled_requests,
                hottest(&o.capacity),
            );
        }
    }
}
