//! The relay's failure reporting over real stream records: the first record that cannot be
//! produced is the one reported, where the stream resumes (AWS checkpoints at the lowest reported
//! sequence number and redelivers everything after it).

mod support;

use std::sync::Mutex;

use aws_lambda_events::event::dynamodb::Event;
use serde_json::json;
use support::{create, in_ten_seconds, rename, sequence_numbers};
use todo_kafka::error::KafkaError;
use todo_kafka::relay::{EventSink, Outgoing, relay};
use todo_local::dynamodb::EmbeddedDynamo;
use todo_tasks::store::DynamoTaskStore;
use tokio::time::Instant;

/// A sink that keeps what it was given and refuses the records of one task from its n-th on.
struct ScriptedSink {
    refuse_key: String,
    refuse_from: usize,
    seen: Mutex<Vec<Outgoing>>,
}

impl EventSink for ScriptedSink {
    async fn publish(
        &self,
        records: &[Outgoing],
        _deadline: Instant,
    ) -> Vec<Result<(), KafkaError>> {
        let mut count = 0;
        let mut seen = self.seen.lock().unwrap();
        records
            .iter()
            .map(|r| {
                seen.push(r.clone());
                if r.key == self.refuse_key {
                    count += 1;
                    if count >= self.refuse_from {
                        return Err(KafkaError::Transient("broker said no".into()));
                    }
                }
                Ok(())
            })
            .collect()
    }
}

#[tokio::test]
async fn the_first_record_that_cannot_be_produced_is_where_the_stream_resumes() {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = DynamoTaskStore::new(engine.client().await, "TasksTable");
    let a = create(&store, "a0").await;
    let b = create(&store, "b0").await;
    rename(&store, &a, "a1").await;
    rename(&store, &b, "b1").await;
    rename(&store, &a, "a2").await;
    let records = todo_local::streams::read_all(engine.database(), "TasksTable").unwrap();
    let sequence = sequence_numbers(&records);
    let batch: Event = serde_json::from_value(json!({"Records": records})).unwrap();

    let sink = ScriptedSink {
        refuse_key: a.id.to_string(),
        refuse_from: 2,
        seen: Mutex::new(Vec::new()),
    };
    let response = relay(&sink, batch, in_ten_seconds()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    // Records: a0, b0, a1, b1, a2. The sink refuses a1 (the second of a): the stream resumes
    // from a1, redelivering b1 and a2 too (Lambda checkpoints at the lowest reported record).
    assert_eq!(failed, [sequence[2].clone()]);

    let seen = sink.seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|r| r.topic == "todo.task.events"));
    let headers: Vec<_> = seen[0].headers.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        headers,
        ["ce_type", "ce_id", "ce_schemaversion", "content-type"]
    );
    let event: serde_json::Value = serde_json::from_slice(&seen[0].value).unwrap();
    assert_eq!(event["type"], "task.created");
    assert_eq!(event["subject"], a.id.to_string());
    assert_eq!(seen[0].key, a.id.to_string());
}

#[tokio::test]
async fn a_batch_without_events_publishes_nothing() {
    let sink = ScriptedSink {
        refuse_key: String::new(),
        refuse_from: 1,
        seen: Mutex::new(Vec::new()),
    };
    let response = relay(
        &sink,
        serde_json::from_value(json!({"Records": []})).unwrap(),
        in_ten_seconds(),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert!(sink.seen.lock().unwrap().is_empty());
}

/// A sink that keeps what it was given and refuses every record of one topic.
struct TopicSink {
    refuse_topic: Option<&'static str>,
    seen: Mutex<Vec<Outgoing>>,
}

impl EventSink for TopicSink {
    async fn publish(
        &self,
        records: &[Outgoing],
        _deadline: Instant,
    ) -> Vec<Result<(), KafkaError>> {
        let mut seen = self.seen.lock().unwrap();
        records
            .iter()
            .map(|r| {
                seen.push(r.clone());
                match self.refuse_topic {
                    Some(t) if t == r.topic => Err(KafkaError::Transient("broker said no".into())),
                    _ => Ok(()),
                }
            })
            .collect()
    }
}

/// Issue #7: a record that can never be an event leaves through the dead-letter topic, and no
/// later record of its task is published before it has.
#[tokio::test]
async fn an_unreadable_record_is_dead_lettered_and_nothing_of_its_task_overtakes_it() {
    use aws_sdk_dynamodb::types::AttributeValue;

    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let client = engine.client().await;
    let store = DynamoTaskStore::new(client.clone(), "TasksTable");
    let a = create(&store, "a0").await;
    let b = create(&store, "b0").await;
    let good = client
        .get_item()
        .table_name("TasksTable")
        .key("pk", AttributeValue::S("USER#u1".into()))
        .key("sk", AttributeValue::S(format!("TASK#{}", a.id)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    // As a laxer version once stored it: an instant no reader can parse, as a new event.
    let mut bad = good.clone();
    bad.insert(
        "created_at".into(),
        AttributeValue::S("+10000-01-01T00:00:00.000Z".into()),
    );
    bad.insert(
        "ev_id".into(),
        AttributeValue::S("0190a000-0000-7000-8000-000000000001".into()),
    );
    let mut repaired = good;
    repaired.insert(
        "ev_id".into(),
        AttributeValue::S("0190a000-0000-7000-8000-000000000002".into()),
    );
    for item in [bad, repaired] {
        client
            .put_item()
            .table_name("TasksTable")
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    rename(&store, &b, "b1").await;
    let records = todo_local::streams::read_all(engine.database(), "TasksTable").unwrap();
    let seq: Vec<String> = records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let batch = || -> Event { serde_json::from_value(json!({ "Records": records })).unwrap() };

    // The dead-letter topic refuses: the bad record and the repair after it retry, unsent;
    // the other task goes on.
    let sink = TopicSink {
        refuse_topic: Some("todo.dead.letter"),
        seen: Mutex::new(Vec::new()),
    };
    let failed: Vec<String> = relay(&sink, batch(), in_ten_seconds())
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier.unwrap())
        .collect();
    // Records: a0, b0, a (unreadable), a (repaired), b1: the stream resumes from the first.
    assert_eq!(failed, [seq[2].clone()]);
    let sent: Vec<(&str, String)> = sink
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.topic, r.key.clone()))
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(sent[0].0, "todo.dead.letter");
    assert_eq!(sent[0].1, format!("USER#u1|TASK#{}", a.id));
    assert_eq!(
        sent[1..]
            .iter()
            .filter(|(_, k)| *k == a.id.to_string())
            .count(),
        1,
        "only a0: the repair is held behind its dead letter"
    );

    // All accepted: the dead letter first, with its reason, then every event in order.
    let sink = TopicSink {
        refuse_topic: None,
        seen: Mutex::new(Vec::new()),
    };
    assert!(
        relay(&sink, batch(), in_ten_seconds())
            .await
            .batch_item_failures
            .is_empty()
    );
    let seen = sink.seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0].topic, "todo.dead.letter");
    let reason = &seen[0]
        .headers
        .iter()
        .find(|(k, _)| *k == "dlt.error")
        .unwrap()
        .1;
    assert!(String::from_utf8_lossy(reason).contains("task image"));
    let keys: Vec<&str> = seen[1..].iter().map(|r| r.key.as_str()).collect();
    let (a, b) = (a.id.to_string(), b.id.to_string());
    assert_eq!(keys, [a.as_str(), b.as_str(), a.as_str(), b.as_str()]);
}
