//! The relay's failure reporting over real stream records: a record that cannot be produced is
//! retried with every later record of the same task, and nothing of other tasks.

mod support;

use std::sync::Mutex;

use aws_lambda_events::event::dynamodb::Event;
use serde_json::json;
use support::{create, in_ten_seconds, rename};
use todo_local::dynamodb::EmbeddedDynamo;
use todo_publisher::relay::{EventSink, Outgoing, relay};
use todo_tasks::store::DynamoTaskStore;
use tokio::time::Instant;

/// A sink that keeps what it was given and refuses the records of one task from its n-th on.
struct ScriptedSink {
    refuse_key: String,
    refuse_from: usize,
    seen: Mutex<Vec<Outgoing>>,
}

impl EventSink for ScriptedSink {
    async fn publish(&self, records: &[Outgoing], _deadline: Instant) -> Vec<Result<(), String>> {
        let mut count = 0;
        let mut seen = self.seen.lock().unwrap();
        records
            .iter()
            .map(|r| {
                seen.push(r.clone());
                if r.key == self.refuse_key {
                    count += 1;
                    if count >= self.refuse_from {
                        return Err("broker said no".to_string());
                    }
                }
                Ok(())
            })
            .collect()
    }
}

#[tokio::test]
async fn a_failed_record_fails_the_rest_of_its_task_only() {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = DynamoTaskStore::new(engine.client().await, "TasksTable");
    let a = create(&store, "a0").await;
    let b = create(&store, "b0").await;
    rename(&store, &a, "a1").await;
    rename(&store, &b, "b1").await;
    rename(&store, &a, "a2").await;
    let records = todo_local::streams::read_all(engine.database(), "TasksTable").unwrap();
    let sequence: Vec<String> = records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
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
    // Records: a0, b0, a1, b1, a2. The sink refuses a1 (the second of a), so a1 and a2 retry.
    assert_eq!(failed, [sequence[2].clone(), sequence[4].clone()]);

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
