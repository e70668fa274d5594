//! `events/streams/tasks-table-changes.json` (every kind of change, an idempotency record and a
//! TTL expiry) through the publisher's handler.

use tokio::time::Instant;

use std::sync::Mutex;

use aws_lambda_events::event::dynamodb::Event;
use todo_kafka::error::KafkaError;
use todo_kafka::relay::{EventSink, Outgoing, relay};

struct Capture(Mutex<Vec<Outgoing>>);

impl EventSink for Capture {
    async fn publish(
        &self,
        records: &[Outgoing],
        _deadline: Instant,
    ) -> Vec<Result<(), KafkaError>> {
        self.0.lock().unwrap().extend(records.iter().cloned());
        vec![Ok(()); records.len()]
    }
}

#[tokio::test]
async fn the_sample_stream_event_publishes_one_event_per_task_change() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/streams/tasks-table-changes.json"
    ))
    .unwrap();
    let event: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(event.records.len(), 8);
    let sink = Capture(Mutex::new(Vec::new()));
    let response = relay(
        &sink,
        event,
        todo_lambda::deadline::after(std::time::Duration::from_secs(10)),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let published = sink.0.lock().unwrap();
    let routed: Vec<_> = published
        .iter()
        .map(|o| {
            let v: serde_json::Value = serde_json::from_slice(&o.value).unwrap();
            (o.topic, v["type"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        routed,
        [
            ("todo.task.events", "task.created".to_string()),
            ("todo.task.events", "task.updated".to_string()),
            ("todo.reminders", "reminder.due".to_string()),
            ("todo.task.events", "task.completed".to_string()),
            ("todo.task.events", "task.reopened".to_string()),
            ("todo.task.events", "task.deleted".to_string()),
        ],
        "the idempotency record and the TTL expiry are not events"
    );
}
