//! Reading a table's stream from the embedded engine, record by record, in the DynamoDB Streams
//! JSON shape (the shape a Lambda stream event carries).

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

/// Every record on `table`'s stream from the trim horizon, in order per shard.
pub fn read_all(db: &Database, table: &str) -> Result<Vec<Value>, DynamoError> {
    let streams = db
        .list_streams(ListStreamsRequest {
            table_name: Some(table.to_string()),
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
            let mut iterator = Some(
                db.get_shard_iterator(GetShardIteratorRequest {
                    stream_arn: stream.stream_arn.clone(),
                    shard_id: shard.shard_id.clone(),
                    shard_iterator_type: "TRIM_HORIZON".to_string(),
                    ..Default::default()
                })
                .map_err(engine)?
                .shard_iterator,
            );
            while let Some(it) = iterator.take().flatten() {
                let page = db
                    .get_records(GetRecordsRequest {
                        shard_iterator: it,
                        limit: Some(1000),
                    })
                    .map_err(engine)?;
                if page.records.is_empty() {
                    break;
                }
                for record in page.records {
                    records.push(serde_json::to_value(record).map_err(engine)?);
                }
                iterator = Some(page.next_shard_iterator);
            }
        }
    }
    Ok(records)
}
