//! `scripts/bench-pipeline`: how many events per minute the publisher and each consumer move
//! through one partition of a real Kafka-protocol broker (tansu on 127.0.0.1) and the embedded
//! DynamoDB engine (the broker storing in SQLite, as in the local cloud), with the handlers the functions run (`relay`, `audit_batch`, `in_app_batch`)
//! fed batches of the template's sizes, as their event-source mappings would.
//!
//! The DynamoDB engine runs in a child process, so each stage's CPU time is the function's
//! own; from the first stage timed on it has AWS's partition limits, and `--dynamodb-latency
//! 5ms` makes every call cost a round trip to DynamoDB in AWS (the seeding runs without either).
//!
//! `--owners N` spreads the tasks over N owners (default 1: one owner's partition key, the worst
//! case for the consumers that serve owners side by side).
//!
//! Usage: `bench-pipeline [--events N] [--owners N] [--dynamodb-latency 5ms]` (default 5,000, 1,
//! no latency).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use todo_audit::consumer::audit_batch;
use todo_audit::store::AuditStore;
use todo_bench::engine_process::{ENGINE_ARG, Engine, cpu_seconds};
use todo_kafka::config::KafkaConfig;
use todo_kafka::producer::KafkaSink;
use todo_kafka::relay::relay;
use todo_lambda::deadline;
use todo_local::kafka::{EmbeddedKafka, Storage, msk_event};
use todo_notifications::channels::in_app::in_app_batch;
use todo_notifications::store::InboxStore;
use todo_schema::event::{TOPIC_DEAD_LETTER, TOPIC_REMINDERS, TOPIC_TASK_EVENTS};
use todo_schema::{Actor, NewTask, TaskId, Timestamp};
use todo_tasks::store::{CreateTask, DynamoTaskStore};

const OWNER: &str = "user-bench";
/// The template's batch sizes: the stream mapping, the audit and notifications mappings.
const STREAM_BATCH: usize = 100;
const AUDIT_BATCH: usize = 100;
const NOTIFY_BATCH: usize = 50;

/// `--events N`, `--owners N` and `--dynamodb-latency L`.
fn args() -> (usize, usize, String) {
    let mut it = std::env::args().skip(1);
    let mut n = 5_000;
    let mut owners = 1;
    let mut latency = String::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--events" => n = it.next().and_then(|v| v.parse().ok()).expect("--events N"),
            "--owners" => {
                owners = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|o| *o > 0)
                    .expect("--owners N")
            }
            "--dynamodb-latency" => {
                latency = it
                    .next()
                    .filter(|v| v.parse::<todo_local::dynamodb::latency::Latency>().is_ok())
                    .expect("--dynamodb-latency 5ms")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    (n, owners, latency)
}

fn per_minute(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64() * 60.0
}

/// Stream records as the DynamoDB Streams mapping delivers them, in batches.
fn stream_batches(records: Vec<Value>) -> Vec<aws_lambda_events::event::dynamodb::Event> {
    records
        .chunks(STREAM_BATCH)
        .map(|chunk| {
            let records: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r["awsRegion"] = json!("us-east-1");
                    r["eventSourceARN"] = json!(
                        "arn:aws:dynamodb:us-east-1:000000000000:table/TasksTable/stream/bench"
                    );
                    r
                })
                .collect();
            serde_json::from_value(json!({ "Records": records })).expect("a stream event")
        })
        .collect()
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some(ENGINE_ARG) {
        return todo_bench::engine_process::serve().await;
    }
    let (n, owners, latency) = args();
    let mut engine = Engine::start().await;
    let kafka = EmbeddedKafka::start(Storage::Memory)
        .await
        .expect("tansu (scripts/tools builds it)");
    kafka
        .create_topics(&[
            (TOPIC_TASK_EVENTS, 1),
            (TOPIC_REMINDERS, 1),
            (TOPIC_DEAD_LETTER, 1),
        ])
        .await
        .expect("topics");
    let client = engine.client().await;
    let tasks = DynamoTaskStore::new(client.clone(), "TasksTable");
    let owner = |i: usize| match owners {
        1 => OWNER.to_string(),
        _ => format!("{OWNER}-{}", i % owners),
    };
    let reminder_at: Timestamp = "2031-01-01T09:00:00Z".parse().expect("an instant");
    for i in 0..n {
        let cmd: NewTask = serde_json::from_value(json!({
            "title": format!("Event {i}"), "tags": ["bench"],
            "reminders": [{"at": reminder_at.to_string()}]
        }))
        .expect("a task");
        let task = cmd
            .into_task(TaskId::generate(), &owner(i), Timestamp::now())
            .expect("a task");
        let actor = Actor::User {
            id: task.owner.clone(),
        };
        tasks.create(&task, &actor, None).await.expect("seeded");
    }
    let created = engine.stream("TasksTable").await;
    engine.go(&latency).await;

    // Publisher: stream batches of 100 -> todo.task.events, one partition.
    let sink = KafkaSink::new(KafkaConfig::plaintext(vec![kafka.bootstrap()]));
    let batches = stream_batches(created.clone());
    let (started, cpu) = (Instant::now(), cpu_seconds());
    for batch in batches {
        let r = relay(&sink, batch, deadline::after(Duration::from_secs(10))).await;
        assert!(r.batch_item_failures.is_empty(), "publisher failures");
    }
    let publish = (started.elapsed(), cpu_seconds() - cpu);

    // Audit consumer: the partition in MSK batches of 100.
    let records = kafka
        .read_partition(TOPIC_TASK_EVENTS, 0)
        .await
        .expect("partition");
    assert_eq!(records.len(), n, "one event per task");
    let audit = AuditStore::new(client.clone(), "AuditTable");
    let (started, cpu) = (Instant::now(), cpu_seconds());
    for chunk in records.chunks(AUDIT_BATCH) {
        let event = msk_event(TOPIC_TASK_EVENTS, 0, chunk);
        let r = audit_batch(&audit, event, deadline::after(Duration::from_secs(50))).await;
        assert!(r.batch_item_failures.is_empty(), "audit failures");
    }
    let consume_audit = (started.elapsed(), cpu_seconds() - cpu);

    // Reminders: the sweep records one per task, the publisher relays them to todo.reminders.
    let after = reminder_at.plus_minutes(1).expect("an instant");
    while todo_tasks::sweep::sweep(&tasks, after)
        .await
        .expect("sweep")
        .recorded
        > 0
    {}
    let all = engine.stream("TasksTable").await;
    for batch in stream_batches(all[created.len()..].to_vec()) {
        relay(&sink, batch, deadline::after(Duration::from_secs(10))).await;
    }
    let reminders = kafka
        .read_partition(TOPIC_REMINDERS, 0)
        .await
        .expect("partition");
    assert_eq!(reminders.len(), n, "one reminder per task");
    let inbox = InboxStore::new(client, "NotificationsTable");
    let (started, cpu) = (Instant::now(), cpu_seconds());
    for chunk in reminders.chunks(NOTIFY_BATCH) {
        let event = msk_event(TOPIC_REMINDERS, 0, chunk);
        let r = in_app_batch(&inbox, event, deadline::after(Duration::from_secs(50))).await;
        assert!(r.batch_item_failures.is_empty(), "notification failures");
    }
    let consume_notify = (started.elapsed(), cpu_seconds() - cpu);
    let throttled = engine.capacity().await.throttled_requests;
    engine.stop().await;

    println!(
        "{n} events of {owners} owners through one partition (batches of {STREAM_BATCH} / {AUDIT_BATCH} / {NOTIFY_BATCH}), DynamoDB latency per call: {}; AWS's partition limits ({throttled} requests throttled)\n",
        if latency.is_empty() { "none" } else { &latency }
    );
    println!("| stage | time | events per minute | the function's CPU per event |");
    println!("|---|---|---|---|");
    for (stage, (took, cpu)) in [
        ("publisher: stream -> todo.task.events", publish),
        (
            "audit-consumer: todo.task.events -> audit table",
            consume_audit,
        ),
        ("channel-in-app: todo.reminders -> inbox", consume_notify),
    ] {
        println!(
            "| {stage} | {:.2} s | {:.0} | {:.2} ms |",
            took.as_secs_f64(),
            per_minute(n, took),
            cpu * 1000.0 / n as f64
        );
    }
}
