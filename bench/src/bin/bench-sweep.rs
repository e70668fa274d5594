//! `scripts/bench-sweep`: N reminders due at one instant, seeded straight into the tasks table
//! (spread over owners of 1 to 7 reminders each, and once more beside one heavy owner with
//! 1,500), recorded by the real sweep (`todo_tasks::sweep`) at the deployed cadence (a sweep
//! at the instant, then every 10 s while anything is left), against the embedded DynamoDB
//! engine. Prints the time from the instant to the end of the sweep that recorded the last reminder, per
//! case (an event carries its sweep's instant, not its write's).
//!
//! Usage: `bench-sweep [N ...]` (default 1000 10000 100000).

use todo_local::dynamodb::EmbeddedDynamo;
use todo_schema::Timestamp;
use todo_tasks::store::DynamoTaskStore;
use todo_tasks::sweep::{EVERY, SweepReport, sweep};

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

struct Outcome {
    sweeps: usize,
    report: SweepReport,
    /// From the instant to the last reminder recorded.
    last: chrono::Duration,
    /// The same for the owners other than the heavy one.
    last_ordinary: chrono::Duration,
}

async fn case(n: usize, heavy: bool) -> Outcome {
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
    let wait = (due.as_datetime() - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;

    let mut outcome = Outcome {
        sweeps: 0,
        report: SweepReport::default(),
        last: chrono::Duration::zero(),
        last_ordinary: chrono::Duration::zero(),
    };
    let mut tick = tokio::time::Instant::now();
    let mut seen = 0;
    loop {
        let r = sweep(&store, Timestamp::now()).await.expect("a sweep");
        // A reminder's event carries the sweep's instant, not its write's: each reminder is
        // timed by the end of the sweep that recorded it, an upper bound.
        let ended = chrono::Utc::now() - due.as_datetime();
        let recorded: Vec<_> = todo_local::streams::read_all(engine.database(), "TasksTable")
            .expect("the stream")
            .into_iter()
            .filter(|r| r["dynamodb"]["NewImage"]["ev_type"]["S"] == "reminder.due")
            .collect();
        for r in &recorded[seen..] {
            outcome.last = outcome.last.max(ended);
            if r["dynamodb"]["NewImage"]["owner"]["S"] != "heavy" {
                outcome.last_ordinary = outcome.last_ordinary.max(ended);
            }
        }
        seen = recorded.len();
        outcome.sweeps += 1;
        outcome.report.recorded += r.recorded;
        outcome.report.deferred += r.deferred;
        if (r.found == 0 && r.deferred == 0) || seen >= n {
            break;
        }
        tick += EVERY;
        tokio::time::sleep_until(tick).await;
    }
    outcome
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("N: a whole number"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    println!(
        "| reminders due at once | owners | sweeps | recorded | to the last recorded | to the last of the ordinary owners |"
    );
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        for heavy in [false, true] {
            let o = case(n, heavy).await;
            let secs = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
            println!(
                "| {n} | {} | {} | {} | {:.1} s | {:.1} s |",
                if heavy {
                    "1 with 1,500, the rest 1-7 each"
                } else {
                    "1-7 each"
                },
                o.sweeps,
                o.report.recorded,
                secs(o.last),
                secs(o.last_ordinary),
            );
        }
    }
}
