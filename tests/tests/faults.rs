//! Faults under load (#9): while `todo-load` drives the local cloud, the DynamoDB engine stops
//! and comes back, the broker is killed (and restarted by its supervisor), function processes
//! are killed mid-invocation and the audit consumer's invocations time out mid-batch. After
//! recovery the load run's verification must hold: every committed change audited once in
//! commit order, every reminder delivered once. The load client retries as a careful client
//! would (same idempotency key, same If-Match) and reads back whether a lost answer committed.

use std::time::Duration;

use todo_e2e::{DataDir, eventually, kill9, start};
use todo_load::{DriveConfig, LoadConfig};
use todo_local::cloud::LocalCloud;

/// A load run against `cloud` by `users` users named `<prefix>-<n>`: `commands` commands at
/// `concurrency`, retried as a careful client retries when the cloud fails.
fn load(
    cloud: &LocalCloud,
    prefix: &str,
    users: usize,
    (commands, concurrency): (usize, usize),
    seed: u64,
) -> LoadConfig {
    LoadConfig {
        base_url: cloud.api_url.clone(),
        users: (0..users)
            .map(|n| {
                let name = format!("{prefix}-{n}");
                let token = cloud.auth.token(&name, 1);
                (name, token)
            })
            .collect(),
        drive: DriveConfig {
            commands,
            concurrency,
            seed,
            reminder_lead: Duration::from_secs(2),
            tolerate_faults: true,
        },
        drain_timeout: Duration::from_secs(120),
    }
}

#[tokio::test]
async fn nothing_is_lost_or_doubled_when_the_engine_the_broker_and_functions_fail_under_load() {
    let data = DataDir::new("faults");
    let mut cloud = start(&data).await;
    let config = load(&cloud, "faulty", 4, (2_000, 4), 7);
    let run = tokio::spawn(async move { todo_load::run(&config).await });

    // The pipeline is busy: the audit consumer has run.
    let audit = cloud.hosts["AuditConsumerFunction"].clone();
    eventually("the audit consumer's first invocation", || async {
        audit.pid().map(|_| ())
    })
    .await;

    // DynamoDB is unreachable for three seconds: longer than the SDK's own retries wait, so
    // commands fail with 503 and the client retries them.
    cloud.dynamo.pause().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    cloud
        .dynamo
        .resume()
        .await
        .expect("the engine serves again");

    // The broker dies; its supervisor starts it again on the same port and data.
    let broker = cloud.kafka.pid().await.expect("the broker runs");
    kill9(broker);

    // A command function and the audit consumer die mid-invocation.
    let create = cloud.hosts["CreateTaskFunction"].clone();
    if let Some(pid) = create.pid() {
        kill9(pid);
    }
    if let Some(pid) = audit.pid() {
        kill9(pid);
    }

    // The audit consumer's invocations time out mid-batch, three in a row: within its
    // mapping's five retries, so nothing may be dead-lettered. (Cut for a fixed second
    // instead, the count of timeouts depended on how fast the machine cold-starts the
    // function: past five, AWS, and so the local cloud, dead-letters the batch.)
    let before = audit.invocations();
    audit.cut_invocations_after(Some(Duration::from_millis(15)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while audit.invocations() < before + 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    audit.cut_invocations_after(None);

    assert!(
        !run.is_finished(),
        "the faults must hit the load run, not follow it: give it more commands"
    );
    let report = run.await.expect("the load run ends");
    println!("{report}");
    assert!(report.problems().is_empty(), "{report}");
}

/// Issue #21's throttled write: DynamoDB throttles a key past its partition's units a second
/// (`ProvisionedThroughputExceededException` with its throttling reason, as AWS does). Here the
/// limit is set low enough that every user's key and the shared audit keys are throttled while
/// `todo-load` drives the cloud: the SDK retries, a command that still fails answers the
/// documented 503 and the client retries it, a consumer's batch is retried. The ledger must
/// hold: every committed change audited once, every reminder delivered once.
#[tokio::test]
async fn a_throttled_hot_key_loses_and_doubles_nothing_under_load() {
    let data = DataDir::new("throttled");
    let cloud = start(&data).await;
    // A sixtieth of AWS's limits: a user's commands (about 10 write units each in the tasks
    // table, the audit entry's as many again) pass it at a few commands a second.
    cloud
        .dynamo
        .set_partition_limits(Some("15,50".parse().expect("limits")));
    let config = load(&cloud, "throttled", 2, (600, 6), 21);
    let report = todo_load::run(&config).await;
    println!("{report}");
    let throttled = cloud.dynamo.capacity().throttled_requests;
    assert!(
        throttled > 0,
        "the limit must bite: no request was throttled"
    );
    let other_errors: Vec<_> = report
        .drive
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 500 && **s != 503)
        .collect();
    assert!(
        other_errors.is_empty(),
        "a throttled command answers 503, nothing else: {other_errors:?}"
    );
    assert!(report.problems().is_empty(), "{report}");
    println!("{throttled} requests throttled");
}
