//! `todo.dead.letter`: reading what was set aside, with its reason and origin, and redriving
//! chosen records to the topic they came from.
//!
//! A record's origin comes from its `dlt.origin` header (`<topic>-<partition>@<offset>` for a
//! consumer's dead letter, `<stream ARN>@<sequence number>` for the publisher's). AWS documents
//! that its Kafka on-failure destination writes "the actual failed records along with failure
//! metadata" without naming the headers, so where no origin header names a topic the operator
//! says where the record goes (`--to`), and the partition follows the record's key as the
//! publisher's partitioner would place it, keeping one task's records on one partition.

use std::collections::BTreeMap;

use base64::Engine;
use rskafka::client::Client;
use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
use rskafka::record::{Record, RecordAndOffset};
use serde_json::{Value, json};
use todo_kafka::client::partition_count;
use todo_kafka::error::KafkaError;
use todo_kafka::partitioner::partition_for;
use todo_schema::event::TOPIC_DEAD_LETTER;

/// One dead-lettered record.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub partition: i32,
    pub offset: i64,
    pub record: Record,
}

/// Where a dead letter goes back to, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Topic { topic: String, partition: i32 },
    NotRedrivable(String),
}

/// The header that marks a redriven record with the dead letter it came from.
pub const REDRIVEN_FROM: &str = "redrive.from";

impl DeadLetter {
    fn header(&self, name: &str) -> Option<String> {
        self.record
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The record as one JSON line: position, time, key, reason and origin headers, value.
    pub fn to_json(&self) -> Value {
        let headers: BTreeMap<&String, String> = self
            .record
            .headers
            .iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned()))
            .collect();
        let value = self
            .record
            .value
            .as_deref()
            .map(|v| match std::str::from_utf8(v) {
                Ok(text) => json!(text),
                Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(v)}),
            });
        json!({
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.record.timestamp.to_rfc3339(),
            "key": self.record.key.as_deref().map(String::from_utf8_lossy),
            "reason": self.header("dlt.error"),
            "origin": self.header("dlt.origin"),
            "function": self.header("dlt.function"),
            "group": self.header("dlt.group"),
            "headers": headers,
            "value": value,
        })
    }

    /// Where to redrive it: the origin header's topic and partition; else `to` (with the
    /// partition of the key among `partitions_of_to`); a stream record the publisher set aside
    /// is no Kafka record and goes back by fixing its item.
    pub fn target(&self, to: Option<(&str, i32)>) -> Target {
        if let Some(origin) = self.header("dlt.origin") {
            if origin.starts_with("arn:aws:dynamodb:") || origin.starts_with("dynamodb-stream") {
                return Target::NotRedrivable(format!(
                    "a table stream record that is no event ({}): fix the item; its next write publishes it",
                    self.header("dlt.error").unwrap_or_default()
                ));
            }
            if let Some((topic, partition)) = origin
                .split_once('@')
                .and_then(|(tp, _)| tp.rsplit_once('-'))
                .and_then(|(t, p)| Some((t.to_string(), p.parse().ok()?)))
            {
                return Target::Topic { topic, partition };
            }
        }
        match to {
            Some((topic, partitions)) => Target::Topic {
                topic: topic.to_string(),
                partition: partition_for(
                    self.record.key.as_deref().unwrap_or_default(),
                    partitions,
                ),
            },
            None => Target::NotRedrivable(
                "no origin header names its topic: say where it goes with --to TOPIC".into(),
            ),
        }
    }

    /// The record to produce again: key, value and original headers, without the dead-letter
    /// metadata, marked with where it was dead-lettered.
    pub fn redriven(&self) -> Record {
        let mut headers: BTreeMap<String, Vec<u8>> = self
            .record
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with("dlt."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        headers.insert(
            REDRIVEN_FROM.into(),
            format!("{TOPIC_DEAD_LETTER}-{}@{}", self.partition, self.offset).into_bytes(),
        );
        Record {
            key: self.record.key.clone(),
            value: self.record.value.clone(),
            headers,
            timestamp: chrono::Utc::now(),
        }
    }
}

/// Every record of the dead-letter topic from `from` on, in order per partition.
pub async fn list(client: &Client, from: i64) -> Result<Vec<DeadLetter>, KafkaError> {
    let partitions = partition_count(client, TOPIC_DEAD_LETTER).await?;
    let mut letters = Vec::new();
    for partition in 0..partitions {
        let pc = client
            .partition_client(TOPIC_DEAD_LETTER, partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| KafkaError::of(format_args!("{TOPIC_DEAD_LETTER}/{partition}"), e))?;
        let end = pc
            .get_offset(OffsetAt::Latest)
            .await
            .map_err(|e| KafkaError::of(format_args!("{TOPIC_DEAD_LETTER}/{partition}"), e))?;
        let mut next = from.max(
            pc.get_offset(OffsetAt::Earliest)
                .await
                .map_err(|e| KafkaError::of(format_args!("{TOPIC_DEAD_LETTER}/{partition}"), e))?,
        );
        while next < end {
            let (records, _) = pc
                .fetch_records(next, 1..5_000_000, 1_000)
                .await
                .map_err(|e| {
                    KafkaError::of(format_args!("{TOPIC_DEAD_LETTER}/{partition} at {next}"), e)
                })?;
            let Some(last) = records.last().map(|r| r.offset) else {
                break;
            };
            letters.extend(records.into_iter().filter(|r| r.offset >= next).map(
                |RecordAndOffset { record, offset }| DeadLetter {
                    partition,
                    offset,
                    record,
                },
            ));
            next = last + 1;
        }
    }
    Ok(letters)
}

/// What a redrive did (or, in a dry run, would do) with one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    pub partition: i32,
    pub offset: i64,
    pub target: Target,
    pub produced: bool,
}

/// Redrives `letters`; produces only with `apply` (a dry run says what it would do).
/// Redriving a record twice is harmless: every consumer applies an event once.
pub async fn redrive(
    client: &Client,
    letters: &[DeadLetter],
    to: Option<&str>,
    apply: bool,
) -> Result<Vec<Redrive>, KafkaError> {
    let to = match to {
        Some(topic) => Some((topic, partition_count(client, topic).await?)),
        None => None,
    };
    let mut done = Vec::new();
    for letter in letters {
        let target = letter.target(to);
        let mut produced = false;
        if let (true, Target::Topic { topic, partition }) = (apply, &target) {
            client
                .partition_client(topic.clone(), *partition, UnknownTopicHandling::Error)
                .await
                .map_err(|e| KafkaError::of(format_args!("{topic}/{partition}"), e))?
                .produce(vec![letter.redriven()], Compression::NoCompression)
                .await
                .map_err(|e| KafkaError::of(format_args!("{topic}/{partition}"), e))?;
            produced = true;
        }
        done.push(Redrive {
            partition: letter.partition,
            offset: letter.offset,
            target,
            produced,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(headers: &[(&str, &str)]) -> DeadLetter {
        DeadLetter {
            partition: 0,
            offset: 7,
            record: Record {
                key: Some(b"task-1".to_vec()),
                value: Some(b"{}".to_vec()),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect(),
                timestamp: chrono::Utc::now(),
            },
        }
    }

    #[test]
    fn a_consumer_dead_letter_goes_back_to_its_topic_and_partition() {
        let l = letter(&[
            ("dlt.origin", "todo.task.events-2@41"),
            ("dlt.error", "boom"),
            ("ce_type", "task.created"),
        ]);
        assert_eq!(
            l.target(None),
            Target::Topic {
                topic: "todo.task.events".into(),
                partition: 2
            }
        );
        let r = l.redriven();
        assert!(!r.headers.keys().any(|k| k.starts_with("dlt.")));
        assert_eq!(r.headers["ce_type"], b"task.created");
        assert_eq!(r.headers[REDRIVEN_FROM], b"todo.dead.letter-0@7");
        assert_eq!(r.key, l.record.key);
        assert_eq!(r.value, l.record.value);
    }

    #[test]
    fn a_stream_record_is_not_redriven_and_an_unknown_origin_needs_to() {
        let l = letter(&[(
            "dlt.origin",
            "arn:aws:dynamodb:us-east-1:1:table/T/stream/x@0001",
        )]);
        assert!(matches!(l.target(None), Target::NotRedrivable(_)));
        let unknown = letter(&[]);
        assert!(matches!(unknown.target(None), Target::NotRedrivable(_)));
        assert_eq!(
            unknown.target(Some(("todo.reminders", 3))),
            Target::Topic {
                topic: "todo.reminders".into(),
                partition: partition_for(b"task-1", 3)
            }
        );
    }
}
