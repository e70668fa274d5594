//! Writing the consumer's entries: BatchWriteItem in chunks, each event once.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use todo_lambda::dynamodb::{n, s};
use todo_lambda::retry::{Backoff, Failure, Policy, Retries};
use todo_lambda::table::TableError;
use todo_schema::audit::AuditEntry;

use super::shards::{actor_pk, shard_of, sharded};
use super::{AuditStore, day_key, day_of, keys_of};

/// BatchWriteItem takes at most 25 writes.
pub(super) const BATCH_LIMIT: usize = 25;
/// Rounds of retrying unprocessed items before giving up on a batch: five, 50 ms apart,
/// doubling. A failed request is not retried here: the table's errors are classified for the
/// consumer, which reports the records for the mapping to retry.
const UNPROCESSED_RETRIES: Policy = Policy {
    backoff: Backoff::doubling(Duration::from_millis(50), Duration::from_millis(800)),
    attempts: Some(5),
    deadline: None,
};

/// Writes entries (consumer).
pub trait AppendEntries {
    /// Writes the entries; on failure, how many from the start are known written.
    fn append(
        &self,
        entries: &[AuditEntry],
    ) -> impl Future<Output = Result<(), (usize, TableError)>> + Send;
}

fn item(
    entry: &AuditEntry,
    retention: Option<Duration>,
) -> Result<HashMap<String, AttributeValue>, TableError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(entry).map_err(TableError::corrupt)?;
    for (name, value) in keys_of(entry) {
        item.insert(name, s(value));
    }
    let day = day_key(day_of(entry.time));
    let shard = shard_of(entry.event_id);
    item.insert("actor_pk".into(), s(actor_pk(&entry.actor, shard)));
    item.insert("task_pk".into(), s(entry.task_id.to_string()));
    let op = format!("{}#{day}", entry.operation);
    item.insert("op_pk".into(), s(sharded(&op, shard)));
    item.insert("day_pk".into(), s(sharded(&day, shard)));
    if let Some(keep) = retention {
        let expires = entry.time.after(keep).epoch_seconds();
        item.insert("ttl".into(), n(expires));
    }
    Ok(item)
}

impl AuditStore {
    pub(super) async fn write_chunk(
        &self,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), TableError> {
        let mut retries = Retries::new(UNPROCESSED_RETRIES);
        loop {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(TableError::of)?;
            requests = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            let left = format!("{} writes stayed unprocessed", requests.len());
            retries
                .after(Failure::Transient(TableError::Unavailable(left)))
                .await?;
        }
    }
}

impl AppendEntries for AuditStore {
    async fn append(&self, entries: &[AuditEntry]) -> Result<(), (usize, TableError)> {
        // The search finds a day's sharded entries through the directory: mark it first.
        self.mark_days(entries).await.map_err(|e| (0, e))?;
        // BatchWriteItem refuses two writes to one key; a batch may hold an event twice.
        let mut seen = HashSet::new();
        let mut done = 0;
        let mut chunk = Vec::new();
        let mut chunk_start = 0;
        for (i, entry) in entries.iter().enumerate() {
            if seen.insert(entry.event_id) {
                let item = item(entry, self.retention).map_err(|e| (done, e))?;
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| (done, TableError::corrupt(e)))?;
                chunk.push(WriteRequest::builder().put_request(put).build());
            }
            if chunk.len() == BATCH_LIMIT || i + 1 == entries.len() {
                if !chunk.is_empty() {
                    self.write_chunk(std::mem::take(&mut chunk))
                        .await
                        .map_err(|e| (chunk_start, e))?;
                }
                done = i + 1;
                chunk_start = done;
            }
        }
        Ok(())
    }
}
