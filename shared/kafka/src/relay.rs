//! The publisher's handler: a batch of tasks-table stream records in, their events out to
//! Kafka, and the records that could not be published reported back for retry.
//!
//! Two kinds of failure, two answers:
//! - **Transient** (the broker is down, slow or moving leaders): the first such record is reported
//!   as the batch item failure; the stream checkpoints before it and redelivers it and everything
//!   after it. The mapping retries until they succeed (the template sets no retry or age limit: the stream keeps records 24 h), so a
//!   broker outage delays events and never drops or reorders them. The whole invocation shares
//!   one deadline, so an outage costs one bounded wait, not one per record.
//! - **Permanent** (a record that can never become an event: an unreadable image, an unknown
//!   `ev_type`): the record itself is published to `todo.dead.letter`, keyed by its item, with
//!   the reason in `dlt.error`, in batch order. It leaves the stream without blocking anyone,
//!   and a later record of the same task is published only after it has been set aside.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use todo_outbox::{Outcome, event_of};
use todo_schema::EventEnvelope;
use todo_schema::event::{SCHEMA_VERSION, TOPIC_DEAD_LETTER};
use tokio::time::Instant;

use crate::error::KafkaError;

/// The most one invocation spends producing before it reports what is left for retry.
pub const PUBLISH_BUDGET: Duration = Duration::from_secs(10);
/// Kept free before the function's own timeout, to answer the mapping in time.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// One Kafka record to produce.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub topic: &'static str,
    /// The task id (the item key for a dead letter): one task's records share a partition and
    /// stay in order.
    pub key: String,
    /// The CloudEvents JSON (a dead letter: the stream record as Lambda delivered it).
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

    /// The dead letter for a stream record that can never become an event.
    pub fn dead_letter(record: &EventRecord, reason: &str) -> Self {
        let origin = format!(
            "{}@{}",
            record
                .event_source_arn
                .as_deref()
                .unwrap_or("dynamodb-stream"),
            sequence_of(record)
        );
        Self {
            topic: TOPIC_DEAD_LETTER,
            key: item_of(record),
            value: serde_json::to_vec(record).unwrap_or_default(),
            headers: vec![
                ("dlt.error", reason.as_bytes().to_vec()),
                ("dlt.origin", origin.into_bytes()),
                ("dlt.function", b"publisher".to_vec()),
                ("content-type", b"application/json".to_vec()),
            ],
            time: chrono::Utc::now(),
        }
    }
}

/// Where events go. Records are produced in the order given within each topic-partition.
pub trait EventSink {
    /// Produces every record, giving up at `deadline`; one result per record, in order.
    fn publish(
        &self,
        records: &[Outgoing],
        deadline: Instant,
    ) -> impl Future<Output = Vec<Result<(), KafkaError>>> + Send;
}

/// The item a record changed, as a stable text (`<pk>|<sk>`): records of the same item stay in
/// order, and a dead letter is keyed by it.
fn item_of(record: &EventRecord) -> String {
    let keys = serde_json::to_value(&record.change.keys).unwrap_or_default();
    let key = |name: &str| keys[name]["S"].as_str().unwrap_or("").to_string();
    format!("{}|{}", key("pk"), key("sk"))
}

fn sequence_of(record: &EventRecord) -> &str {
    record
        .change
        .sequence_number
        .as_deref()
        .unwrap_or(&record.event_id)
}

/// Why a record was not published this time (each is retried: see the module docs).
#[derive(Clone, Debug, thiserror::Error)]
enum Unpublished {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// A record of its item could not be dead-lettered: it waits, so as not to overtake it.
    #[error("held behind a record of the same item not yet dead-lettered")]
    Held,
}

/// Produces dead letters first, then the events, holding back every event that follows a dead
/// letter of its item which could not be produced: nothing overtakes a record not yet set aside.
async fn publish_in_order<S: EventSink>(
    sink: &S,
    batch: &Event,
    positions: &[usize],
    outgoing: &[Outgoing],
    deadline: Instant,
) -> Vec<Result<(), Unpublished>> {
    let (dead, live): (Vec<usize>, Vec<usize>) =
        (0..outgoing.len()).partition(|&j| outgoing[j].topic == TOPIC_DEAD_LETTER);
    let mut results: Vec<Result<(), Unpublished>> = vec![Ok(()); outgoing.len()];
    let mut blocked: HashMap<String, usize> = HashMap::new();
    if !dead.is_empty() {
        let records: Vec<Outgoing> = dead.iter().map(|&j| outgoing[j].clone()).collect();
        for (&j, result) in dead.iter().zip(sink.publish(&records, deadline).await) {
            if result.is_err() {
                let item = item_of(&batch.records[positions[j]]);
                let first = blocked.entry(item).or_insert(positions[j]);
                *first = (*first).min(positions[j]);
            }
            results[j] = result.map_err(Unpublished::Kafka);
        }
    }
    let (held, send): (Vec<usize>, Vec<usize>) = live.into_iter().partition(|&j| {
        blocked
            .get(&item_of(&batch.records[positions[j]]))
            .is_some_and(|&first| positions[j] > first)
    });
    for j in held {
        results[j] = Err(Unpublished::Held);
    }
    if !send.is_empty() {
        let records: Vec<Outgoing> = send.iter().map(|&j| outgoing[j].clone()).collect();
        for (&j, result) in send.iter().zip(sink.publish(&records, deadline).await) {
            results[j] = result.map_err(Unpublished::Kafka);
        }
    }
    results
}

/// Publishes the events of a batch by `deadline`; see the module docs for what fails how.
pub async fn relay<S: EventSink>(
    sink: &S,
    batch: Event,
    deadline: Instant,
) -> DynamoDbEventResponse {
    let mut outgoing = Vec::new();
    let mut positions = Vec::new();
    let mut skipped = 0;
    for (i, record) in batch.records.iter().enumerate() {
        let out = match event_of(record) {
            Ok(Outcome::Event(event)) => match Outgoing::of(&event) {
                Ok(out) => out,
                Err(e) => {
                    let reason = format!("event not encodable: {e}");
                    tracing::error!(event_id = %record.event_id, %reason, "stream record dead-lettered");
                    Outgoing::dead_letter(record, &reason)
                }
            },
            Ok(Outcome::Skip(why)) => {
                tracing::debug!(event_id = %record.event_id, why, "not an event");
                skipped += 1;
                continue;
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(event_id = %record.event_id, %reason, "stream record dead-lettered");
                Outgoing::dead_letter(record, &reason)
            }
        };
        positions.push(i);
        outgoing.push(out);
    }
    let results = publish_in_order(sink, &batch, &positions, &outgoing, deadline).await;
    let results_ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    let mut failed = Vec::new();
    for ((position, out), result) in positions.iter().zip(&outgoing).zip(results) {
        if let Err(reason) = result {
            tracing::warn!(%reason, topic = out.topic, key = %out.key, "produce failed: retried");
            failed.push(*position);
        }
    }
    let dead_lettered = outgoing
        .iter()
        .zip(&results_ok)
        .filter(|(o, ok)| **ok && o.topic == TOPIC_DEAD_LETTER)
        .count();
    let published = results_ok.iter().filter(|ok| **ok).count() - dead_lettered;
    // A DynamoDB stream checkpoints at the lowest sequence number reported and redelivers every
    // record after it, other tasks' included (idempotent consumers absorb the repeats): reporting
    // the first failed record says all there is to say.
    let mut response = DynamoDbEventResponse::default();
    if let Some(&first) = failed.iter().min() {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = batch.records[first].change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    todo_lambda::metrics::emit(
        "publisher",
        &[
            ("Applied", published),
            ("Skipped", skipped),
            ("DeadLettered", dead_lettered),
            ("Failed", failed.len()),
        ],
    );
    response
}
