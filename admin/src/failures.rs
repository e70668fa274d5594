//! The publisher's failure queue: what Lambda sends to a stream mapping's on-failure
//! destination is not the records but where they were (AWS's invocation record:
//! `DDBStreamBatchInfo` with the stream, shard and sequence range; `events/failures/` holds AWS's
//! documented example). Redriving reads that range back from the table stream, which keeps
//! records 24 hours, and relays it through the publisher's own code to Kafka. Consumers apply
//! each event once, so a range published before is harmless.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde::Deserialize;
use serde_json::{Value, json};
use todo_kafka::producer::KafkaSink;
use todo_kafka::relay::relay;

/// How long a DynamoDB stream keeps a record (AWS: "stream records are available for 24 hours").
pub const STREAM_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// AWS's invocation record for a failed stream batch (the fields a redrive needs).
#[derive(Debug, Clone, Deserialize)]
pub struct FailureRecord {
    #[serde(rename = "requestContext")]
    pub request_context: Value,
    pub timestamp: String,
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch: BatchInfo,
}

/// Where the failed batch was on the stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub approximate_arrival_of_first_record: chrono::DateTime<chrono::Utc>,
    pub batch_size: usize,
    pub stream_arn: String,
}

/// Why a failure record was not redriven. Only [`Gone::Expired`] and [`Gone::Trimmed`] mean the
/// records are lost; the others say what to fix or to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gone {
    /// Older than the stream keeps records.
    Expired { arrived: String },
    /// The stream answers that the range was trimmed away.
    Trimmed(String),
    /// The record cannot be right: a reversed range, a malformed sequence number, an arrival in
    /// the future, a stream or shard that does not exist.
    Invalid(String),
    /// The stream could not be read now (unreachable, throttled, a server error): try again.
    Unavailable(String),
}

impl Gone {
    /// The records cannot be recovered from the stream any more.
    pub fn lost(&self) -> bool {
        matches!(self, Gone::Expired { .. } | Gone::Trimmed(_))
    }
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gone::Expired { arrived } => write!(
                f,
                "the stream no longer holds these records: they arrived at {arrived}, and a DynamoDB stream keeps records 24 hours; the tasks' current state is in the table, their lost events are not recoverable from the stream"
            ),
            Gone::Trimmed(why) => write!(f, "the stream no longer holds these records: {why}"),
            Gone::Invalid(why) => write!(f, "not a valid failure record for this stream: {why}"),
            Gone::Unavailable(why) => write!(f, "cannot read the stream now (try again): {why}"),
        }
    }
}

/// A service error, classified: trimmed or expired iterators mean the data is gone; a missing
/// resource or a validation error mean the record names something wrong; anything else
/// (connection, throttling, server errors) is worth another try.
fn classify<E, R>(e: aws_sdk_dynamodbstreams::error::SdkError<E, R>) -> Gone
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(str::to_string);
    let message = aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string();
    match code.as_deref() {
        Some("TrimmedDataAccessException") | Some("ExpiredIteratorException") => {
            Gone::Trimmed(message)
        }
        Some("ResourceNotFoundException") => Gone::Invalid(format!(
            "the stream or shard does not exist (a wrong ARN or shard id, or a stream deleted more than 24 hours ago): {message}"
        )),
        Some("ValidationException") => Gone::Invalid(message),
        _ => Gone::Unavailable(message),
    }
}

/// A DynamoDB Streams sequence number: 21 to 40 decimal digits (the API's own constraint).
fn valid_sequence(s: &str) -> bool {
    (21..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks what can be checked without the stream.
fn check(info: &BatchInfo, now: chrono::DateTime<chrono::Utc>) -> Result<(), Gone> {
    for (name, s) in [
        ("startSequenceNumber", &info.start_sequence_number),
        ("endSequenceNumber", &info.end_sequence_number),
    ] {
        if !valid_sequence(s) {
            return Err(Gone::Invalid(format!(
                "{name} {s:?} is not a sequence number (21 to 40 digits)"
            )));
        }
    }
    if sequence_key(&info.start_sequence_number) > sequence_key(&info.end_sequence_number) {
        return Err(Gone::Invalid(format!(
            "the range is reversed: start {} after end {}",
            info.start_sequence_number, info.end_sequence_number
        )));
    }
    if info.approximate_arrival_of_first_record > now + chrono::Duration::minutes(5) {
        return Err(Gone::Invalid(format!(
            "approximateArrivalOfFirstRecord {} lies in the future",
            info.approximate_arrival_of_first_record.to_rfc3339()
        )));
    }
    Ok(())
}

/// Reads failure records: JSON documents one after another (an SQS message body each, one per
/// line or pretty-printed), or one JSON array of them.
pub fn parse(text: &str) -> Result<Vec<FailureRecord>, String> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| format!("failure records: {e}"));
    }
    serde_json::Deserializer::from_str(text)
        .into_iter::<FailureRecord>()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| format!("record {}: {e}", i + 1)))
        .collect()
}

/// The stream records of the failed batch, in order, as Lambda would deliver them.
pub async fn read_range(
    streams: &StreamsClient,
    info: &BatchInfo,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<EventRecord>, Gone> {
    check(info, now)?;
    let age = now - info.approximate_arrival_of_first_record;
    if age.to_std().is_ok_and(|a| a >= STREAM_RETENTION) {
        return Err(Gone::Expired {
            arrived: info.approximate_arrival_of_first_record.to_rfc3339(),
        });
    }
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&info.stream_arn)
        .shard_id(&info.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&info.start_sequence_number)
        .send()
        .await
        .map_err(classify)?
        .shard_iterator;
    let end = sequence_key(&info.end_sequence_number);
    let mut records = Vec::new();
    while let Some(it) = iterator {
        let page = streams
            .get_records()
            .shard_iterator(it)
            .limit(1000)
            .send()
            .await
            .map_err(classify)?;
        let empty = page.records().is_empty();
        for r in page.records() {
            let seq = r
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .unwrap_or_default();
            if sequence_key(seq) > end {
                return check_start(records, info);
            }
            records.push(lambda_record(r, &info.stream_arn)?);
        }
        if empty {
            break;
        }
        iterator = page.next_shard_iterator().map(str::to_string);
    }
    check_start(records, info)
}

/// The range must begin where the failure record says; a later first record means the start
/// was trimmed away.
fn check_start(records: Vec<EventRecord>, info: &BatchInfo) -> Result<Vec<EventRecord>, Gone> {
    match records
        .first()
        .and_then(|r| r.change.sequence_number.clone())
    {
        Some(first) if first == info.start_sequence_number => Ok(records),
        Some(first) => Err(Gone::Trimmed(format!(
            "the shard has no record {} any more (its first record from there is {first})",
            info.start_sequence_number
        ))),
        None => Err(Gone::Invalid(format!(
            "shard {} has no record at or after {}",
            info.shard_id, info.start_sequence_number
        ))),
    }
}

/// Sequence numbers are decimal strings of varying length: compare them as numbers.
fn sequence_key(s: &str) -> (usize, &str) {
    let s = s.trim_start_matches('0');
    (s.len(), s)
}

/// A Streams API record in the shape the stream mapping hands the publisher.
fn lambda_record(
    r: &aws_sdk_dynamodbstreams::types::Record,
    stream_arn: &str,
) -> Result<EventRecord, Gone> {
    let image = |m: Option<
        &std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
    >| {
        m.map(|m| {
            let item: serde_dynamo::Item = m.clone().into();
            serde_json::to_value(item).unwrap_or(Value::Null)
        })
    };
    let d = r.dynamodb();
    let mut change = json!({
        "SequenceNumber": d.and_then(|d| d.sequence_number()),
        "SizeBytes": d.and_then(|d| d.size_bytes()).unwrap_or(0),
        "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|v| v.as_str().to_string()),
        "Keys": image(d.and_then(|d| d.keys())).unwrap_or(json!({})),
    });
    if let Some(at) = d.and_then(|d| d.approximate_creation_date_time()) {
        change["ApproximateCreationDateTime"] = json!(at.secs());
    }
    if let Some(new) = image(d.and_then(|d| d.new_image())) {
        change["NewImage"] = new;
    }
    if let Some(old) = image(d.and_then(|d| d.old_image())) {
        change["OldImage"] = old;
    }
    let mut record = json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str().to_string()),
        "eventVersion": r.event_version(),
        "eventSource": r.event_source().unwrap_or("aws:dynamodb"),
        "awsRegion": r.aws_region(),
        "eventSourceARN": stream_arn,
        "dynamodb": change,
    });
    if let Some(who) = r.user_identity() {
        record["userIdentity"] = json!({"type": who.r#type(), "principalId": who.principal_id()});
    }
    serde_json::from_value(record)
        .map_err(|e| Gone::Invalid(format!("a record the publisher cannot read: {e}")))
}

/// What redriving one failure record did.
#[derive(Debug)]
pub struct Redriven {
    pub records: usize,
    /// Sequence numbers the publisher reported as failed again (retry the redrive later).
    pub failed: Vec<String>,
}

/// Relays `records` through the publisher's code: the same events, keys and partitions, the
/// same dead-lettering of records that are no events.
pub async fn publish(sink: &KafkaSink, records: Vec<EventRecord>) -> Redriven {
    let n = records.len();
    let mut batch = Event::default();
    batch.records = records;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let response = relay(sink, batch, deadline).await;
    Redriven {
        records: n,
        failed: response
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_documented_failure_record() {
        let text = include_str!("../../events/failures/stream-batch-failure.json");
        let records = parse(text).unwrap();
        assert_eq!(records.len(), 1);
        let b = &records[0].batch;
        assert_eq!(b.shard_id, "shardId-00000001573689847184-864758bb");
        assert_eq!(b.start_sequence_number, "800000000003126276362");
        assert_eq!(b.batch_size, 1);
        assert_eq!(
            records[0].request_context["condition"],
            "RetryAttemptsExhausted"
        );
    }

    #[test]
    fn impossible_records_are_invalid_not_gone() {
        let mut info = parse(include_str!(
            "../../events/failures/stream-batch-failure.json"
        ))
        .unwrap()
        .remove(0)
        .batch;
        let now = info.approximate_arrival_of_first_record;
        assert_eq!(check(&info, now), Ok(()));
        info.start_sequence_number = "800000000003126276363".into();
        assert!(matches!(check(&info, now), Err(Gone::Invalid(m)) if m.contains("reversed")));
        info.start_sequence_number = "abc".into();
        assert!(matches!(check(&info, now), Err(Gone::Invalid(_))));
        info.start_sequence_number = "1".into();
        assert!(matches!(check(&info, now), Err(Gone::Invalid(_))));
        info.start_sequence_number = "800000000003126276362".into();
        assert!(matches!(
            check(&info, now - chrono::Duration::hours(1)),
            Err(Gone::Invalid(m)) if m.contains("future")
        ));
        assert!(!Gone::Invalid(String::new()).lost());
        assert!(!Gone::Unavailable(String::new()).lost());
        assert!(Gone::Trimmed(String::new()).lost());
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(sequence_key("900") < sequence_key("1000"));
        assert!(sequence_key("000123") == sequence_key("123"));
        assert!(sequence_key("800000000003126276362") > sequence_key("800000000003126276361"));
    }

    #[test]
    fn a_bad_line_is_named() {
        let ok = include_str!("../../events/failures/stream-batch-failure.json");
        let err = parse(&format!("{ok}\n{{\"x\":1}}\n")).unwrap_err();
        assert!(err.starts_with("record 2:"), "{err}");
    }
}
