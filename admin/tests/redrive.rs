//! The way back, through the local cloud (real binaries, tansu, the engine's Streams API): a
//! reminder dead-lettered while the webhook was down reaches it after a redrive, and a stream
//! range named by a failure record is published again without a second audit entry.

use serde_json::json;
use todo_admin::dead_letters::{self, REDRIVEN_FROM, Target};
use todo_admin::failures::{self, Gone};
use todo_e2e::{
    Api, DataDir, dead_letters as wait_dead_letters, eventually, id, in_seconds, start, start_with,
};
use todo_kafka::config::KafkaConfig;
use todo_kafka::producer::KafkaSink;
use todo_local::template::Template;

#[tokio::test]
async fn a_dead_lettered_reminder_reaches_the_webhook_once_redriven() {
    let data = DataDir::new("admin-dlt");
    // The webhook channel retries for an hour; here it gives up after two retries, so the
    // outage ends in the dead-letter topic within the test.
    let mut template = Template::workspace().unwrap();
    template.root["Resources"]["WebhookChannelFunction"]["Properties"]["Events"]["Reminders"]["Properties"]
        ["MaximumRetryAttempts"] = json!(2);
    let cloud = start_with(&template, &data).await.unwrap();
    cloud.webhook.answer(503);
    let alice = Api::new(&cloud, "alice");
    let task = alice
        .create(json!({"title": "redrive me", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    wait_dead_letters(&cloud, 1).await;

    let client = cloud.kafka.client().await.unwrap();
    let letters = dead_letters::list(&client, 0).await.unwrap();
    assert_eq!(letters.len(), 1);
    let shown = letters[0].to_json();
    assert_eq!(shown["group"], "todo-notifications-webhook");
    assert!(
        shown["origin"]
            .as_str()
            .unwrap()
            .starts_with("todo.reminders-")
    );
    assert!(
        shown["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{shown}"
    );

    // A dry run produces nothing.
    let before = cloud.webhook.received().len();
    let dry = dead_letters::redrive(&client, &letters, None, false)
        .await
        .unwrap();
    assert!(matches!(dry[0].target, Target::Topic { ref topic, .. } if topic == "todo.reminders"));
    assert!(!dry[0].produced);

    // The receiver is back: redrive, and the reminder arrives, marked as redriven.
    cloud.webhook.answer(200);
    let done = dead_letters::redrive(&client, &letters, None, true)
        .await
        .unwrap();
    assert!(done[0].produced);
    let delivered = eventually("the redriven reminder at the webhook", || async {
        let received = cloud.webhook.received();
        let ok: Vec<_> = received[before..]
            .iter()
            .filter(|r| {
                serde_json::from_slice::<serde_json::Value>(&r.body)
                    .is_ok_and(|b| b["task_id"] == task["id"])
            })
            .cloned()
            .collect();
        (!ok.is_empty()).then_some(ok)
    })
    .await;
    assert_eq!(delivered.len(), 1);
    let origin = dead_letters::list(&client, 0).await.unwrap();
    assert_eq!(
        origin.len(),
        1,
        "the redriven record was applied, not dead-lettered again"
    );
    let reminders = cloud.kafka.read_partition(
        "todo.reminders",
        match &done[0].target {
            Target::Topic { partition, .. } => *partition,
            other => panic!("{other:?}"),
        },
    );
    let redriven = reminders
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.record.headers.contains_key(REDRIVEN_FROM))
        .count();
    assert_eq!(redriven, 1);
    // The inbox held it all along (the webhook is a second channel), once.
    let inbox = alice.get("/notifications").await.body;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    let _ = id(&task);
}

#[tokio::test]
async fn a_failure_record_is_published_again_from_the_stream_or_said_to_be_gone() {
    let data = DataDir::new("admin-failures");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let task = alice.create(json!({"title": "from the stream"})).await;
    alice
        .items_once(&format!("/tasks/{}/history", id(&task)), 1)
        .await;

    // Where the create is on the stream, as a failure record would say.
    let config = todo_local::dynamodb::sdk_config(&cloud.dynamo.endpoint()).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let arn = streams
        .list_streams()
        .table_name("TasksTable")
        .send()
        .await
        .unwrap()
        .streams()[0]
        .stream_arn()
        .unwrap()
        .to_string();
    let shard = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description()
        .unwrap()
        .shards()[0]
        .shard_id()
        .unwrap()
        .to_string();
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let page = streams
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
    let insert = page
        .records()
        .iter()
        .find(|r| {
            r.dynamodb()
                .and_then(|d| d.new_image())
                .and_then(|i| i.get("title"))
                .and_then(|t| t.as_s().ok())
                .is_some_and(|t| t == "from the stream")
        })
        .expect("the create on the stream");
    let seq = insert
        .dynamodb()
        .unwrap()
        .sequence_number()
        .unwrap()
        .to_string();
    let failure = |arrived: chrono::DateTime<chrono::Utc>, start: &str| {
        json!({
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "DDBStreamBatchInfo": {
                "shardId": shard, "startSequenceNumber": start, "endSequenceNumber": seq,
                "approximateArrivalOfFirstRecord": arrived.to_rfc3339(),
                "approximateArrivalOfLastRecord": arrived.to_rfc3339(),
                "batchSize": 1, "streamArn": arn,
            }
        })
        .to_string()
    };
    let now = chrono::Utc::now();
    let record = failures::parse(&failure(now, &seq)).unwrap().remove(0);
    let range = failures::read_range(&streams, &record.batch, now)
        .await
        .unwrap();
    assert_eq!(range.len(), 1);

    let sink = KafkaSink::new(KafkaConfig::plaintext(vec![cloud.kafka.bootstrap()]));
    let done = failures::publish(&sink, range).await;
    assert!(done.failed.is_empty(), "{done:?}");
    let (partition, duplicate_at) = eventually("the event twice on todo.task.events", || async {
        for p in 0..3 {
            let records = cloud
                .kafka
                .read_partition("todo.task.events", p)
                .await
                .ok()?;
            let Some(first) = records.first().and_then(|r| r.record.headers.get("ce_id")) else {
                continue; // no event on this partition
            };
            let again = records
                .iter()
                .skip(1)
                .find(|r| r.record.headers.get("ce_id") == Some(first));
            if let Some(r) = again {
                return Some((p, r.offset));
            }
        }
        None
    })
    .await;
    // The audit consumer has committed past the duplicate: it was applied (as a no-op).
    let committed = data.0.join(format!(
        "esm/todo-audit.offsets/todo.task.events-{partition}"
    ));
    eventually("the audit consumer past the duplicate", || async {
        let next: i64 = std::fs::read_to_string(&committed)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (next > duplicate_at).then_some(())
    })
    .await;
    let history = alice
        .get(&format!("/tasks/{}/history", id(&task)))
        .await
        .body;
    assert_eq!(history["items"].as_array().unwrap().len(), 1, "{history}");

    // Older than the stream keeps: said so, nothing read.
    let old = failures::parse(&failure(now - chrono::Duration::hours(25), &seq))
        .unwrap()
        .remove(0);
    let gone = failures::read_range(&streams, &old.batch, now)
        .await
        .unwrap_err();
    assert!(matches!(gone, Gone::Expired { .. }));
    assert!(gone.to_string().contains("no longer holds"));
    // A malformed start is an invalid record, not lost data.
    let malformed = failures::parse(&failure(now, "1")).unwrap().remove(0);
    let invalid = failures::read_range(&streams, &malformed.batch, now)
        .await
        .unwrap_err();
    assert!(matches!(invalid, Gone::Invalid(_)), "{invalid:?}");
    assert!(!invalid.lost());
    // A shard that does not exist: invalid, not lost.
    let mut wrong_shard = record.batch.clone();
    wrong_shard.shard_id = "shardId-00000000000000000000-00000000".into();
    let invalid = failures::read_range(&streams, &wrong_shard, now)
        .await
        .unwrap_err();
    assert!(!invalid.lost(), "{invalid:?}");
    // A stream that cannot be reached is worth another try, not lost data either.
    let unreachable = todo_local::dynamodb::sdk_config("http://127.0.0.1:1").await;
    let down = aws_sdk_dynamodbstreams::Client::new(&unreachable);
    let unavailable = failures::read_range(&down, &record.batch, now)
        .await
        .unwrap_err();
    assert!(
        matches!(unavailable, Gone::Unavailable(_)),
        "{unavailable:?}"
    );
}

/// The local stream mapping's on-failure destination writes what Lambda sends an SQS
/// destination (AWS's invocation record), and todo-admin redrives exactly that: the publisher
/// fails against a broker that is not there, with no retries left the batch's range lands in
/// the failure file, and the redrive publishes the task's event to a real broker.
#[tokio::test]
async fn what_the_local_failure_destination_writes_todo_admin_redrives() {
    use todo_local::dynamodb::EmbeddedDynamo;
    use todo_local::esm::streams::StreamMapping;
    use todo_local::kafka::{EmbeddedKafka, Storage};
    use todo_local::runtime::{FunctionHost, FunctionSpec};
    use todo_local::template::Template;
    use todo_schema::{Actor, NewTask, TaskId, Timestamp};
    use todo_tasks::store::{CreateTask, DynamoTaskStore};

    let dir = DataDir::new("admin-local-failure");
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let publisher = Template::workspace()
        .unwrap()
        .functions()
        .into_iter()
        .find(|f| f.logical_id == "PublisherFunction")
        .unwrap();
    let mut event = publisher
        .events
        .iter()
        .find(|(_, e)| e["Type"] == "DynamoDB")
        .map(|(_, e)| e.clone())
        .unwrap();
    event["Properties"]["MaximumRetryAttempts"] = json!(0);
    let host = FunctionHost::with_environments(
        FunctionSpec {
            name: "PublisherFunction".into(),
            binary: todo_e2e::bin_dir().join("publisher"),
            env: vec![("KAFKA_BOOTSTRAP_SERVERS".into(), "127.0.0.1:9".into())],
            timeout: std::time::Duration::from_secs(2),
            log_file: None,
            watch: None,
        },
        1,
    );
    let mut mapping = StreamMapping::from_properties(&event["Properties"], host, &dir.0).unwrap();

    let task: NewTask = serde_json::from_value(json!({"title": "lost in transit"})).unwrap();
    let task = task
        .into_task(TaskId::generate(), "alice", Timestamp::now())
        .unwrap();
    DynamoTaskStore::new(engine.client().await, "TasksTable")
        .create(&task, &Actor::User { id: "alice".into() }, None)
        .await
        .unwrap();
    // Poll as the mapping would until the batch, out of retries, is recorded (40 s at most).
    let mut text = None;
    for _ in 0..400 {
        mapping.poll(engine.database(), &|_, _, _| {}).await;
        text = std::fs::read_to_string(&mapping.failure_file).ok();
        if text.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = text.expect("the failure record");
    let records = failures::parse(&text).unwrap();
    assert_eq!(records.len(), 1, "{text}");
    assert_eq!(
        records[0].request_context["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(records[0].batch.batch_size, 1);

    let config = todo_local::dynamodb::sdk_config(&engine.endpoint()).await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let range = failures::read_range(&streams, &records[0].batch, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(range.len(), 1);

    let kafka = EmbeddedKafka::start(Storage::Memory).await.unwrap();
    kafka
        .create_topics(&[
            ("todo.task.events", 1),
            ("todo.reminders", 1),
            ("todo.dead.letter", 1),
        ])
        .await
        .unwrap();
    let sink = KafkaSink::new(KafkaConfig::plaintext(vec![kafka.bootstrap()]));
    let done = failures::publish(&sink, range).await;
    assert!(done.failed.is_empty(), "{done:?}");
    let events = kafka.read_partition("todo.task.events", 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].record.key.as_deref(),
        Some(task.id.to_string().as_bytes())
    );
}
