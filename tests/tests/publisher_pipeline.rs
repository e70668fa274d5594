//! The event pipeline with real parts: the tasks table (embedded DynamoDB) and its stream, the
//! publisher, a Kafka-protocol broker (tansu) on 127.0.0.1, and the audit consumer.

mod support;

use aws_lambda_events::event::dynamodb::Event;
use serde_json::{Value, json};
use support::{actor, create, in_ten_seconds, rename};
use todo_audit::consumer::audit_batch;
use todo_audit::store::{AuditStore, ReadEntries};
use todo_kafka::config::KafkaConfig;
use todo_kafka::partitioner::partition_for;
use todo_kafka::producer::KafkaSink;
use todo_kafka::relay::relay;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::kafka::{EmbeddedKafka, Storage, msk_event};
use todo_schema::event::{TOPIC_DEAD_LETTER, TOPIC_REMINDERS, TOPIC_TASK_EVENTS};
use todo_schema::{NewTask, Task, TaskId, Timestamp};
use todo_tasks::store::{CompleteTask, CreateTask, DynamoTaskStore, TaskWrite};

const PARTITIONS: i32 = 3;

struct Pipeline {
    dynamo: EmbeddedDynamo,
    kafka: EmbeddedKafka,
    tasks: DynamoTaskStore,
    sink: KafkaSink,
}

impl Pipeline {
    async fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("todo-pipeline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kafka = EmbeddedKafka::start(Storage::Folder(dir))
            .await
            .expect("tansu starts (scripts/tools builds it)");
        kafka
            .create_topics(&[
                (TOPIC_TASK_EVENTS, PARTITIONS),
                (TOPIC_REMINDERS, PARTITIONS),
                (TOPIC_DEAD_LETTER, 1),
            ])
            .await
            .unwrap();
        let dynamo = EmbeddedDynamo::start_in_memory().await.unwrap();
        let tasks = DynamoTaskStore::new(dynamo.client().await, "TasksTable");
        let sink = KafkaSink::new(KafkaConfig::plaintext(vec![kafka.bootstrap()]));
        Self {
            dynamo,
            kafka,
            tasks,
            sink,
        }
    }

    /// The stream records written since `from`, as one Lambda batch.
    fn batch(&self, from: usize) -> (Event, usize) {
        let records = todo_local::streams::read_all(self.dynamo.database(), "TasksTable").unwrap();
        let total = records.len();
        let batch = serde_json::from_value(json!({"Records": records[from..]})).unwrap();
        (batch, total)
    }

    /// Every event value on the task events topic, per partition.
    async fn published(&self) -> Vec<Vec<Value>> {
        let mut partitions = Vec::new();
        for p in 0..PARTITIONS {
            let records = self
                .kafka
                .read_partition(TOPIC_TASK_EVENTS, p)
                .await
                .unwrap();
            partitions.push(
                records
                    .iter()
                    .map(|r| serde_json::from_slice(r.record.value.as_ref().unwrap()).unwrap())
                    .collect(),
            );
        }
        partitions
    }
}

#[tokio::test]
async fn a_change_travels_table_stream_publisher_broker_consumer_audit() {
    let p = Pipeline::new("journey").await;
    let task = create(&p.tasks, "Plan trip").await;
    rename(&p.tasks, &task, "Plan the trip").await;
    p.tasks
        .complete(&TaskWrite::new("u1", task.id, &actor(), Timestamp::now()))
        .await
        .unwrap();

    let (batch, _) = p.batch(0);
    let response = relay(&p.sink, batch, in_ten_seconds()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // Keyed by task id, on the partition Kafka's own partitioner picks, in order.
    let partition = partition_for(task.id.to_string().as_bytes(), PARTITIONS);
    let records = p
        .kafka
        .read_partition(TOPIC_TASK_EVENTS, partition)
        .await
        .unwrap();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(
            r.record.key.as_deref(),
            Some(task.id.to_string().as_bytes())
        );
        assert_eq!(
            r.record.headers["content-type"],
            b"application/cloudevents+json"
        );
        assert_eq!(r.record.headers["ce_schemaversion"], b"1");
    }
    let types: Vec<_> = records
        .iter()
        .map(|r| String::from_utf8(r.record.headers["ce_type"].clone()).unwrap())
        .collect();
    assert_eq!(types, ["task.created", "task.updated", "task.completed"]);

    // The consumer gets them the way an MSK event-source mapping delivers them.
    let audit = AuditStore::new(p.dynamo.client().await, "AuditTable");
    let response = audit_batch(
        &audit,
        msk_event(TOPIC_TASK_EVENTS, partition, &records),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let history = audit.history("u1", task.id, 10, None).await.unwrap();
    let ops: Vec<_> = history.items.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["task.created", "task.updated", "task.completed"]);
    let update = &history.items[1];
    assert_eq!(update.before.as_ref().unwrap().title, "Plan trip");
    assert_eq!(update.after.as_ref().unwrap().title, "Plan the trip");
    assert_eq!(update.after.as_ref().unwrap().version, 2);
}

#[tokio::test]
async fn a_broker_outage_mid_batch_loses_nothing_and_keeps_order() {
    let mut p = Pipeline::new("outage").await;
    let a = create(&p.tasks, "a0").await;
    let b = create(&p.tasks, "b0").await;
    let (first, seen) = p.batch(0);
    assert!(
        relay(&p.sink, first, in_ten_seconds())
            .await
            .batch_item_failures
            .is_empty()
    );

    rename(&p.tasks, &a, "a1").await;
    rename(&p.tasks, &b, "b1").await;
    rename(&p.tasks, &a, "a2").await;
    let (second, _) = p.batch(seen);
    let sequence: Vec<_> = second
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone().unwrap())
        .collect();

    p.kafka.stop().await.unwrap();
    let down = relay(&p.sink, second, in_ten_seconds()).await;
    let failed: Vec<_> = down
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(
        failed,
        sequence[..1],
        "the stream resumes from the batch's first record, redelivering all of it"
    );

    // The event-source mapping retries from the failed records once the broker is back.
    p.kafka.restart().await.unwrap();
    let (retry, _) = p.batch(seen);
    let up = relay(&p.sink, retry, in_ten_seconds()).await;
    assert!(up.batch_item_failures.is_empty(), "{up:?}");

    let published = p.published().await;
    let titles = |task: &Task| -> Vec<String> {
        published
            .iter()
            .flatten()
            .filter(|e| e["subject"] == task.id.to_string())
            .map(|e| e["data"]["task"]["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        titles(&a),
        ["a0", "a1", "a2"],
        "nothing lost, per-task order kept"
    );
    assert_eq!(titles(&b), ["b0", "b1"]);
}

#[tokio::test]
async fn a_due_reminder_ends_in_the_inbox_and_at_a_webhook_whose_signature_verifies() {
    use todo_local::webhook::WebhookReceiver;
    use todo_notifications::channels::delivery::deliver_batch;
    use todo_notifications::channels::in_app::in_app_batch;
    use todo_notifications::channels::webhook::Webhook;
    use todo_notifications::store::{InboxStore, ReadInbox};

    let p = Pipeline::new("reminder").await;
    let cmd: NewTask = serde_json::from_value(json!({
        "title": "Renew passport",
        "due": {"at": "2031-03-01T09:00:00Z", "tz": "Europe/Dublin"},
        "reminders": [{"before_due_minutes": 30}]
    }))
    .unwrap();
    let task = cmd
        .into_task(TaskId::generate(), "u1", Timestamp::now())
        .unwrap();
    p.tasks.create(&task, &actor(), None).await.unwrap();
    let report = todo_tasks::sweep::sweep(&p.tasks, "2031-03-01T08:30:05Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(report.recorded, 1);

    let (batch, _) = p.batch(0);
    assert!(
        relay(&p.sink, batch, in_ten_seconds())
            .await
            .batch_item_failures
            .is_empty()
    );
    let partition = partition_for(task.id.to_string().as_bytes(), PARTITIONS);
    let records = p
        .kafka
        .read_partition(TOPIC_REMINDERS, partition)
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "reminder.due goes to todo.reminders");

    let hook = WebhookReceiver::start().await.unwrap();
    let secret = b"pipeline-webhook-secret".to_vec();
    let webhook = Webhook::new(hook.url().to_string(), secret.clone()).unwrap();
    let inbox = InboxStore::new(p.dynamo.client().await, "NotificationsTable");
    let batch = || msk_event(TOPIC_REMINDERS, partition, &records);
    let later = || todo_lambda::deadline::after(std::time::Duration::from_secs(60));
    let response = in_app_batch(&inbox, batch(), later()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let response = deliver_batch(&inbox, &webhook, batch(), later()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let page = inbox.list("u1", true, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].title, "Renew passport");
    assert_eq!(
        page.items[0].reminder_at.to_string(),
        "2031-03-01T08:30:00.000Z"
    );
    assert!(!page.items[0].late);

    let delivery = &hook.received()[0];
    let ts: i64 = delivery.headers["x-todo-timestamp"].parse().unwrap();
    todo_schema::webhook::verify(
        &secret,
        ts,
        &delivery.body,
        &delivery.headers["x-todo-signature"],
        Timestamp::now().epoch_seconds(),
        300,
    )
    .expect("signature verifies");
}
