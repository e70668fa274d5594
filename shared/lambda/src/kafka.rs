//! Consuming MSK event-source-mapping batches, the same way in every Kafka-triggered function.
//!
//! Records are applied in offset order per partition. A record that is not a valid event (not
//! base64, not JSON, an unknown schema version, a tombstone) is a poison record: it is reported
//! as a batch item failure, so the mapping retries it a bounded number of times and then sends
//! it to the on-failure destination (the dead-letter topic), while the rest of the batch is
//! applied. An event of a type this consumer does not handle is skipped. When applying fails
//! (the table is down), that record and every later record of its partition are reported, and
//! nothing earlier is redone. Past the invocation's deadline no partition is started, and one
//! still being applied is given up: its records are reported for retry (applying is idempotent),
//! so the function answers in time instead of being killed with the whole batch.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use todo_schema::EventEnvelope;
use todo_schema::event::{Decoded, EventType, decode};

/// The partial-batch response Lambda expects from a Kafka-triggered function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KafkaBatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<KafkaItemFailure>,
}

/// One failed record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KafkaItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: KafkaItemId,
}

/// A record's identity: `"<topic>-<partition>"` and its offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KafkaItemId {
    pub partition: String,
    pub offset: i64,
}

/// What one record holds.
#[derive(Debug)]
pub enum Delivery {
    /// An event this contract version knows.
    Event(Box<EventEnvelope>),
    /// A valid event of an unknown type: skip it.
    UnknownType(String),
    /// Not an event at all.
    Poison(String),
}

/// Decodes a record's value.
pub fn decode_record(record: &KafkaRecord) -> Delivery {
    let Some(value) = record.value.as_deref() else {
        return Delivery::Poison("a tombstone (no value) is not an event".into());
    };
    let bytes = match B64.decode(value) {
        Ok(b) => b,
        Err(e) => return Delivery::Poison(format!("value is not base64: {e}")),
    };
    match decode(&bytes) {
        Ok(Decoded::Known(event)) => Delivery::Event(event),
        Ok(Decoded::UnknownType { event_type, .. }) => Delivery::UnknownType(event_type),
        Err(e) => Delivery::Poison(e.to_string()),
    }
}

/// Applying a run of events stopped early.
#[derive(Debug)]
pub struct Stopped {
    /// How many events, from the start of the run, were applied.
    pub applied: usize,
    pub reason: String,
}

/// What a Kafka-triggered function does with the events of one partition, in order.
pub trait EventConsumer {
    /// The function's name in its metrics (the `Function` dimension the template's alarms use).
    fn name(&self) -> &'static str;

    /// Whether this consumer acts on events of this type (others are skipped).
    fn handles(&self, kind: EventType) -> bool;

    /// Applies the events in order; must be idempotent by event id, since a batch can be
    /// delivered again.
    fn apply(&self, events: &[EventEnvelope]) -> impl Future<Output = Result<(), Stopped>> + Send;
}

/// A run of events grouped by the owner of their task, each owner's in the run's order with
/// their positions in it: channels that serve owners side by side (one owner's slow far end
/// must not hold another's) keep each owner's events in order this way.
pub fn by_owner<'a>(
    events: impl IntoIterator<Item = &'a EventEnvelope>,
) -> BTreeMap<&'a str, Vec<(usize, &'a EventEnvelope)>> {
    let mut owners: BTreeMap<&str, Vec<(usize, &EventEnvelope)>> = BTreeMap::new();
    for (i, event) in events.into_iter().enumerate() {
        owners
            .entry(event.payload.owner())
            .or_default()
            .push((i, event));
    }
    owners
}

/// Serves a run's events owner by owner: `serve` gets one owner's events in the run's order (with
/// their positions in it), `parallel` owners at once, so one owner's many events, slow far end
/// or busy partition key never holds back another owner's. Returns what each owner's service
/// reported and, when any failed, the earliest event not applied: the mapping retries the run
/// from there, and what came after it and was applied is applied again (consumers are
/// idempotent).
pub async fn serve_owners<'a, T, F, Fut>(
    events: &'a [EventEnvelope],
    parallel: usize,
    serve: F,
) -> (Vec<T>, Result<(), Stopped>)
where
    F: Fn(&'a str, Vec<(usize, &'a EventEnvelope)>) -> Fut,
    Fut: Future<Output = (Result<(), (usize, String)>, T)>,
{
    use futures_util::stream::{self, StreamExt};
    // The futures are gathered in a loop: a closure returning them (`.map(...)` on the stream)
    // trips the compiler's Send inference in the callers' `apply`.
    let mut owners = Vec::new();
    for (owner, theirs) in by_owner(events) {
        owners.push(serve(owner, theirs));
    }
    let done: Vec<_> = stream::iter(owners)
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut outputs = Vec::with_capacity(done.len());
    let mut first: Option<(usize, String)> = None;
    for (result, output) in done {
        outputs.push(output);
        if let Err((i, reason)) = result
            && first.as_ref().is_none_or(|(j, _)| i < *j)
        {
            first = Some((i, reason));
        }
    }
    let outcome = match first {
        None => Ok(()),
        Some((applied, reason)) => Err(Stopped { applied, reason }),
    };
    (outputs, outcome)
}

/// Runs one batch through a consumer by `deadline` and reports what must be retried.
pub async fn consume<C: EventConsumer>(
    consumer: &C,
    batch: &KafkaEvent,
    deadline: tokio::time::Instant,
) -> KafkaBatchResponse {
    let mut response = KafkaBatchResponse::default();
    let (mut applied, mut skipped) = (0, 0);
    let partitions: BTreeMap<&String, &Vec<KafkaRecord>> = batch.records.iter().collect();
    for (partition, records) in partitions {
        let mut records: Vec<&KafkaRecord> = records.iter().collect();
        records.sort_by_key(|r| r.offset);
        let fail = |offset: i64| KafkaItemFailure {
            item_identifier: KafkaItemId {
                partition: partition.clone(),
                offset,
            },
        };
        let mut events = Vec::new();
        let mut event_offsets = Vec::new();
        let mut poison = Vec::new();
        for record in &records {
            match decode_record(record) {
                Delivery::Event(e) if consumer.handles(e.payload.event_type()) => {
                    event_offsets.push(record.offset);
                    events.push(*e);
                }
                Delivery::Event(e) => {
                    skipped += 1;
                    tracing::debug!(event_id = %e.id, "not handled here");
                }
                Delivery::UnknownType(kind) => {
                    skipped += 1;
                    tracing::info!(%partition, offset = record.offset, %kind, "unknown event type skipped");
                }
                Delivery::Poison(reason) => {
                    tracing::warn!(%partition, offset = record.offset, %reason, "poison record");
                    poison.push(record.offset);
                }
            }
        }
        let late = || Stopped {
            applied: 0,
            reason: "the invocation's deadline came first".into(),
        };
        let outcome = if tokio::time::Instant::now() >= deadline {
            Err(late())
        } else {
            tokio::time::timeout_at(deadline, consumer.apply(&events))
                .await
                .unwrap_or_else(|_| Err(late()))
        };
        let resume_from = match outcome {
            Ok(()) => {
                applied += events.len();
                None
            }
            Err(stopped) => {
                applied += stopped.applied;
                tracing::warn!(%partition, reason = %stopped.reason, "applying stopped");
                event_offsets.get(stopped.applied).copied()
            }
        };
        for record in &records {
            let retry = resume_from.is_some_and(|from| record.offset >= from);
            if retry || poison.contains(&record.offset) {
                response.batch_item_failures.push(fail(record.offset));
            }
        }
    }
    crate::metrics::emit(
        consumer.name(),
        &[
            ("Applied", applied),
            ("Skipped", skipped),
            ("Failed", response.batch_item_failures.len()),
        ],
    );
    response
}

/// Time a Kafka-triggered function keeps, before its own deadline, to answer its mapping: the
/// same for every consumer, so none is killed mid-answer.
pub const MARGIN: Duration = Duration::from_secs(2);

/// Serves a Kafka-triggered function's batches with `handler` until the runtime stops the
/// process: the [`KafkaEvent`] counterpart of `http::serve`. Each batch is handed the deadline
/// its work must stop by, the function's own less [`MARGIN`] and at most `budget`, so that a
/// slow batch reports what is left instead of being killed with all of it. State the handler
/// needs is built once in `main` and borrowed:
///
/// ```ignore
/// let store = Store::new(..);
/// let store = &store;
/// serve(BUDGET, move |batch, deadline| audit_batch(store, batch, deadline)).await
/// ```
pub async fn serve<F, Fut>(budget: Duration, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(KafkaEvent, tokio::time::Instant) -> Fut,
    Fut: Future<Output = KafkaBatchResponse> + Send,
{
    crate::deadline::serve(
        MARGIN,
        budget,
        move |payload: serde_json::Value, deadline| {
            let response = batch_of(payload).map(|batch| handler(batch, deadline));
            async move {
                match response {
                    Ok(response) => Ok(response.await),
                    Err(not_a_batch) => Err(not_a_batch.into()),
                }
            }
        },
    )
    .await
}

/// The batch a Kafka event-source mapping sends (Amazon MSK's says `"eventSource":
/// "aws:kafka"`, a self-managed Kafka one `"SelfManagedKafka"`), or why `payload` is not one:
/// a function invoked by hand with another event gets a clear error, not an empty batch
/// applied.
pub fn batch_of(payload: serde_json::Value) -> Result<KafkaEvent, String> {
    match payload.get("eventSource").and_then(|s| s.as_str()) {
        Some("aws:kafka" | "SelfManagedKafka") => {
            serde_json::from_value(payload).map_err(|e| format!("not a Kafka batch: {e}"))
        }
        Some(other) => Err(format!("not a Kafka batch: eventSource is {other:?}")),
        None => Err("not a Kafka batch: no eventSource".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own MSK event is a batch; what another trigger sends, or nothing, is refused.
    #[test]
    fn only_a_kafka_mappings_batch_is_taken_for_one() {
        let msk: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/msk/task-events.json")).unwrap();
        assert!(!batch_of(msk).unwrap().records.is_empty());
        let http: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/http/create-task.json")).unwrap();
        assert_eq!(
            batch_of(http).unwrap_err(),
            "not a Kafka batch: no eventSource"
        );
        let other = serde_json::json!({"eventSource": "aws:sqs", "records": {}});
        assert_eq!(
            batch_of(other).unwrap_err(),
            "not a Kafka batch: eventSource is \"aws:sqs\""
        );
        let broken = serde_json::json!({"eventSource": "aws:kafka", "records": 3});
        assert!(
            batch_of(broken)
                .unwrap_err()
                .starts_with("not a Kafka batch: ")
        );
        assert!(batch_of(serde_json::json!({})).is_err());
    }
    use serde_json::{Value, json};
    use std::sync::Mutex;

    fn event_json(id: &str, kind: &str, schema: u32) -> Value {
        json!({
            "specversion": "1.0", "id": id, "source": "serverless-todo/tasks",
            "subject": "0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "time": "2026-01-01T00:00:00.000Z",
            "datacontenttype": "application/json", "schemaversion": schema, "type": kind,
            "data": {"actor": {"kind": "user", "id": "u1"}, "before": {
                "id": "0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "owner": "u1", "title": "t",
                "status": "open", "priority": "low", "created_at": "2026-01-01T00:00:00.000Z",
                "updated_at": "2026-01-01T00:00:00.000Z", "version": 1}}
        })
    }

    fn owned_by(n: u32, owner: &str) -> EventEnvelope {
        let mut v = event_json(
            &format!("0192f0c4-7b7f-7000-8000-00000000000{n}"),
            "task.deleted",
            1,
        );
        v["data"]["before"]["owner"] = json!(owner);
        serde_json::from_value(v).expect("an event")
    }

    #[tokio::test]
    async fn owners_are_served_side_by_side_each_in_order_and_the_earliest_failure_is_retried() {
        let events: Vec<EventEnvelope> =
            [(0, "a"), (1, "b"), (2, "a"), (3, "b"), (4, "c"), (5, "b")]
                .into_iter()
                .map(|(n, owner)| owned_by(n, owner))
                .collect();
        let served = Mutex::new(Vec::new());
        let (outputs, outcome) = serve_owners(&events, 2, |owner, theirs| {
            let served = &served;
            async move {
                for (i, _) in theirs {
                    served.lock().unwrap().push((owner.to_string(), i));
                    if i == 3 {
                        // b's second event fails: b stops there, the others go on.
                        return (Err((i, "boom".to_string())), owner.to_string());
                    }
                }
                (Ok(()), owner.to_string())
            }
        })
        .await;
        let stopped = outcome.unwrap_err();
        assert_eq!((stopped.applied, stopped.reason.as_str()), (3, "boom"));
        let mut outputs = outputs;
        outputs.sort();
        assert_eq!(outputs, ["a", "b", "c"]);
        let served = served.into_inner().unwrap();
        let of = |o: &str| -> Vec<usize> {
            served
                .iter()
                .filter(|(w, _)| w == o)
                .map(|(_, i)| *i)
                .collect()
        };
        assert_eq!(of("a"), [0, 2]);
        assert_eq!(of("b"), [1, 3], "an owner stops at its failure");
        assert_eq!(of("c"), [4]);
    }

    fn record(offset: i64, value: Option<String>) -> Value {
        json!({"topic": "todo.task.events", "partition": 0, "offset": offset, "timestamp": 1767225600000i64,
               "timestampType": "CREATE_TIME", "key": B64.encode("k"), "value": value, "headers": []})
    }

    fn b64(v: &Value) -> Option<String> {
        Some(B64.encode(v.to_string()))
    }

    fn batch() -> KafkaEvent {
        let id = |n: u32| format!("0192f0c4-7b7f-7000-8000-00000000000{n}");
        serde_json::from_value(json!({
            "eventSource": "aws:kafka",
            "records": {"todo.task.events-0": [
                record(10, b64(&event_json(&id(1), "task.deleted", 1))),
                record(11, Some("%%% not base64".into())),
                record(12, b64(&event_json(&id(2), "task.archived", 1))),
                record(13, b64(&event_json(&id(3), "task.deleted", 2))),
                record(14, None),
                record(15, b64(&event_json(&id(4), "task.deleted", 1))),
                record(16, b64(&event_json(&id(5), "task.deleted", 1))),
            ]}
        }))
        .unwrap()
    }

    struct Scripted {
        stop_after: Option<usize>,
        applied: Mutex<Vec<String>>,
    }

    impl EventConsumer for Scripted {
        fn name(&self) -> &'static str {
            "test-consumer"
        }

        fn handles(&self, kind: EventType) -> bool {
            kind == EventType::TaskDeleted
        }

        async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
            let n = self.stop_after.unwrap_or(events.len()).min(events.len());
            self.applied
                .lock()
                .unwrap()
                .extend(events[..n].iter().map(|e| e.id.to_string()));
            match self.stop_after {
                Some(applied) if applied < events.len() => Err(Stopped {
                    applied,
                    reason: "table down".into(),
                }),
                _ => Ok(()),
            }
        }
    }

    fn failed_offsets(r: &KafkaBatchResponse) -> Vec<i64> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.offset)
            .collect()
    }

    /// The sample batch consumed by a consumer that stops after `stop_after` events (`None`:
    /// never), with `time` left: the response, and the ids of the events applied.
    async fn consumed(
        stop_after: Option<usize>,
        time: Duration,
    ) -> (KafkaBatchResponse, Vec<String>) {
        let c = Scripted {
            stop_after,
            applied: Mutex::new(Vec::new()),
        };
        let r = consume(&c, &batch(), crate::deadline::after(time)).await;
        (r, c.applied.into_inner().unwrap())
    }

    #[tokio::test]
    async fn poison_records_are_reported_and_the_rest_applied() {
        let (r, applied) = consumed(None, Duration::from_secs(60)).await;
        assert_eq!(
            failed_offsets(&r),
            [11, 13, 14],
            "bad base64, unknown schema version, tombstone"
        );
        assert_eq!(applied.len(), 3, "offsets 10, 15, 16 applied; 12 skipped");
        assert_eq!(
            serde_json::to_value(&r).unwrap()["batchItemFailures"][0],
            json!({"itemIdentifier": {"partition": "todo.task.events-0", "offset": 11}})
        );
    }

    #[tokio::test]
    async fn a_transient_failure_retries_from_the_first_unapplied_record_on() {
        let (r, applied) = consumed(Some(1), Duration::from_secs(60)).await;
        assert_eq!(failed_offsets(&r), [11, 13, 14, 15, 16]);
        assert_eq!(applied.len(), 1);
    }

    #[tokio::test]
    async fn past_the_deadline_the_partition_is_left_for_retry() {
        let (r, _) = consumed(None, Duration::ZERO).await;
        assert_eq!(
            failed_offsets(&r),
            [10, 11, 12, 13, 14, 15, 16],
            "nothing applied: the whole partition is retried from its first event"
        );
    }
}
