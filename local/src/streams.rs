//! Reading a table's stream from the embedded engine, record by record, in the DynamoDB Streams
//! JSON shape (the shape a Lambda stream event carries).

use std::collections::HashMap;

use dynoxide::Database;
use dynoxide::actions::{
    describe_stream::DescribeStreamRequest, get_records::GetRecordsRequest,
    get_shard_iterator::GetShardIteratorRequest, list_streams::ListStreamsRequest,
};
use serde_json::Value;

use crate::dynamodb::DynamoError;

fn engine(e: impl std::fmt::Display) -> DynamoError {
    DynamoError::Engine(e.to_string())
}

/// A reader that remembers where it is in every shard, so each call returns only new records.
#[derive(Debug, Default)]
pub struct StreamCursor {
    table: String,
    /// Where to start a shard not seen yet: after this sequence number, or at the trim horizon.
    start_after: Option<String>,
    /// The next iterator of every shard seen (`None` once a closed shard is exhausted).
    shards: HashMap<String, Option<String>>,
}

impl StreamCursor {
    /// A cursor on `table`'s stream that starts after `start_after` (or at the trim horizon).
    pub fn new(table: &str, start_after: Option<String>) -> Self {
        Self {
            table: table.to_string(),
            start_after: start_after.filter(|s| !s.is_empty()),
            shards: HashMap::new(),
        }
    }

    /// The records written since the last call, in order per shard.
    pub fn read_new(&mut self, db: &Database) -> Result<Vec<Value>, DynamoError> {
        let streams = db
            .list_streams(ListStreamsRequest {
                table_name: Some(self.table.clone()),
                ..Default::default()
            })
            .map_err(engine)?;
        let mut records = Vec::new();
        for stream in streams.streams {
            let description = db
                .describe_stream(DescribeStreamRequest {
                    stream_arn: stream.stream_arn.clone(),
                    ..Default::default()
                })
                .map_err(engine)?;
            for shard in description.stream_description.shards {
                if !self.shards.contains_key(&shard.shard_id) {
                    let iterator = self.first_iterator(db, &stream.stream_arn, &shard.shard_id)?;
                    self.shards.insert(shard.shard_id.clone(), iterator);
                }
                let Some(slot) = self.shards.get_mut(&shard.shard_id) else {
                    continue;
                };
                while let Some(it) = slot.take() {
                    let page = db
                        .get_records(GetRecordsRequest {
                            shard_iterator: it.clone(),
                            limit: Some(1000),
                        })
                        .map_err(engine)?;
                    let empty = page.records.is_empty();
                    for record in page.records {
                        records.push(serde_json::to_value(record).map_err(engine)?);
                    }
                    // Keep the iterator for the next call; an open shard always hands one back.
                    *slot = page
                        .next_shard_iterator
                        .or(if empty { Some(it) } else { None });
                    if empty {
                        break;
                    }
                }
            }
        }
        Ok(records)
    }

    fn first_iterator(
        &self,
        db: &Database,
        arn: &str,
        shard: &str,
    ) -> Result<Option<String>, DynamoError> {
        let from_checkpoint = self.start_after.as_ref().and_then(|after| {
            db.get_shard_iterator(GetShardIteratorRequest {
                stream_arn: arn.to_string(),
                shard_id: shard.to_string(),
                shard_iterator_type: "AFTER_SEQUENCE_NUMBER".to_string(),
                sequence_number: Some(after.clone()),
            })
            .ok()
        });
        let response = match from_checkpoint {
            Some(r) => r,
            None => db
                .get_shard_iterator(GetShardIteratorRequest {
                    stream_arn: arn.to_string(),
                    shard_id: shard.to_string(),
                    shard_iterator_type: "TRIM_HORIZON".to_string(),
                    ..Default::default()
                })
                .map_err(engine)?,
        };
        Ok(response.shard_iterator)
    }
}

/// Every record on `table`'s stream from the trim horizon, in order per shard.
pub fn read_all(db: &Database, table: &str) -> Result<Vec<Value>, DynamoError> {
    StreamCursor::new(table, None).read_new(db)
}

/// Sequence numbers are decimal strings of varying length: this orders them as numbers.
pub fn sequence_order(s: &str) -> (usize, &str) {
    let s = s.trim_start_matches('0');
    (s.len(), s)
}

/// The stream ARN and the shard of `table`'s stream that hold the record with `sequence`, as an
/// on-failure record names them.
pub fn locate(db: &Database, table: &str, sequence: &str) -> Option<(String, String)> {
    let streams = db
        .list_streams(ListStreamsRequest {
            table_name: Some(table.to_string()),
            ..Default::default()
        })
        .ok()?;
    for stream in streams.streams {
        let description = db
            .describe_stream(DescribeStreamRequest {
                stream_arn: stream.stream_arn.clone(),
                ..Default::default()
            })
            .ok()?;
        for shard in description.stream_description.shards {
            let range = &shard.sequence_number_range;
            let after_start = range
                .starting_sequence_number
                .as_deref()
                .is_none_or(|s| sequence_order(s) <= sequence_order(sequence));
            let before_end = range
                .ending_sequence_number
                .as_deref()
                .is_none_or(|e| sequence_order(sequence) <= sequence_order(e));
            if after_start && before_end {
                return Some((stream.stream_arn.clone(), shard.shard_id));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::EmbeddedDynamo;
    use aws_sdk_dynamodb::types::AttributeValue;

    async fn put(client: &aws_sdk_dynamodb::Client, sk: &str) {
        client
            .put_item()
            .table_name("TasksTable")
            .item("pk", AttributeValue::S("USER#u".into()))
            .item("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap();
    }

    fn keys(records: &[Value]) -> Vec<String> {
        records
            .iter()
            .map(|r| {
                r["dynamodb"]["Keys"]["sk"]["S"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_cursor_returns_only_new_records_and_resumes_after_a_checkpoint() {
        let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
        let client = engine.client().await;
        let db = engine.database();
        let mut cursor = StreamCursor::new("TasksTable", None);
        assert!(cursor.read_new(db).unwrap().is_empty());
        put(&client, "a").await;
        put(&client, "b").await;
        let first = cursor.read_new(db).unwrap();
        assert_eq!(keys(&first), ["a", "b"]);
        assert!(
            cursor.read_new(db).unwrap().is_empty(),
            "nothing new, nothing returned"
        );
        put(&client, "c").await;
        assert_eq!(keys(&cursor.read_new(db).unwrap()), ["c"]);

        let checkpoint = first[0]["dynamodb"]["SequenceNumber"]
            .as_str()
            .unwrap()
            .to_string();
        let mut resumed = StreamCursor::new("TasksTable", Some(checkpoint));
        assert_eq!(keys(&resumed.read_new(db).unwrap()), ["b", "c"]);
        assert_eq!(keys(&read_all(db, "TasksTable").unwrap()), ["a", "b", "c"]);
    }
}
