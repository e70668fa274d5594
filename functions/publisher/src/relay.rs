//! The publisher's handler: a batch of tasks-table stream records in, their events out to
//! Kafka, and the records that could not be published reported back for retry.

use std::collections::HashMap;
use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use todo_schema::EventEnvelope;
use todo_schema::event::SCHEMA_VERSION;
use todo_tasks::outbox::{Outcome, event_of};

/// One Kafka record to produce.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub topic: &'static str,
    /// The task id: one task's events share a partition and stay in order.
    pub key: String,
    /// The CloudEvents JSON.
    pub value: Vec<u8>,
    pub headers: Vec<(&'static str, Vec<u8>)>,
    pub time: chrono::DateTime<chrono::Utc>,
}

impl Outgoing {
    /// The Kafka record for an event: topic by type, key = task id, headers for routing without
    /// parsing the value.
    pub fn of(event: &EventEnvelope) -> Result<Self, serde_json::Error> {
        let kind = event.payload.event_type();
        Ok(Self {
            topic: kind.topic(),
            key: event.subject.to_string(),
            value: serde_json::to_vec(event)?,
            headers: vec![
                ("ce_type", kind.as_str().as_bytes().to_vec()),
                ("ce_id", event.id.to_string().into_bytes()),
                ("ce_schemaversion", SCHEMA_VERSION.to_string().into_bytes()),
                ("content-type", b"application/cloudevents+json".to_vec()),
            ],
            time: event.time.as_datetime(),
        })
    }
}

/// Where events go. Records are produced in the order given within each topic-partition.
pub trait EventSink {
    /// Produces every record; one result per record, in the same order.
    fn publish(&self, records: &[Outgoing])
    -> impl Future<Output = Vec<Result<(), String>>> + Send;
}

/// The item a record changed: records of the same item must stay in order.
fn item_of(record: &EventRecord) -> String {
    let keys = &record.change.keys;
    format!("{:?}|{:?}", keys.get("pk"), keys.get("sk"))
}

/// Publishes the events of a batch. A record whose event cannot be produced (or read) is
/// reported as a batch item failure together with every later record of the same task, so the
/// event-source mapping retries them and per-task order holds.
pub async fn relay<S: EventSink>(sink: &S, batch: Event) -> DynamoDbEventResponse {
    let mut failed: Vec<usize> = Vec::new();
    let mut outgoing = Vec::new();
    let mut positions = Vec::new();
    for (i, record) in batch.records.iter().enumerate() {
        match event_of(record).map(|o| match o {
            Outcome::Event(event) => Outgoing::of(&event).map(Some).map_err(|e| e.to_string()),
            Outcome::Skip(why) => {
                tracing::debug!(event_id = %record.event_id, why, "not an event");
                Ok(None)
            }
        }) {
            Ok(Ok(Some(out))) => {
                positions.push(i);
                outgoing.push(out);
            }
            Ok(Ok(None)) => {}
            Ok(Err(reason)) => {
                tracing::error!(event_id = %record.event_id, %reason, "event not encodable");
                failed.push(i);
            }
            Err(e) => {
                tracing::error!(error = %e, "stream record is not a readable event");
                failed.push(i);
            }
        }
    }
    let results = sink.publish(&outgoing).await;
    for ((position, out), result) in positions.iter().zip(&outgoing).zip(results) {
        if let Err(reason) = result {
            tracing::warn!(%reason, topic = out.topic, key = %out.key, "produce failed");
            failed.push(*position);
        }
    }
    // Per item, the first record that failed: it and everything after it for that item retry.
    let mut first_failure: HashMap<String, usize> = HashMap::new();
    for &i in &failed {
        let first = first_failure.entry(item_of(&batch.records[i])).or_insert(i);
        *first = (*first).min(i);
    }
    let mut response = DynamoDbEventResponse::default();
    for (i, record) in batch.records.iter().enumerate() {
        if first_failure
            .get(&item_of(record))
            .is_some_and(|&first| i >= first)
        {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        }
    }
    response
}
