//! The audit table.
//!
//! | key | value |
//! |---|---|
//! | `pk` | `USER#<owner>#TASK#<task id>`: one task's history, reachable only through its owner |
//! | `sk` | `V#<version, 20 digits>#<event id>`: the task's version order, unique per event |
//! | `owner_pk`, `owner_sk` | `USER#<owner>`, `<time>#<event id>`: the GSI `by-owner` for `/audit` |
//!
//! A task's history is sorted by the version each change produced, not by a clock: clocks of
//! concurrent writers disagree, versions do not (the tasks table grants each exactly once).
//!
//! Keys derive from the event alone, so writing an event twice rewrites the same item: a
//! redelivered batch leaves one entry per event.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use todo_lambda::cursor::StartKey;
use todo_lambda::dynamodb::{start_key_item, start_key_of};
use todo_lambda::table::TableError;
use todo_schema::audit::AuditEntry;
use todo_schema::{TaskId, Timestamp};

/// BatchWriteItem takes at most 25 writes.
const BATCH_LIMIT: usize = 25;
/// Rounds of retrying unprocessed items (with backoff) before giving up on a batch.
const UNPROCESSED_ROUNDS: u32 = 5;
/// The owner index.
pub const INDEX_BY_OWNER: &str = "by-owner";

/// The audit table and its client.
#[derive(Clone, Debug)]
pub struct AuditStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// One page of entries.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<StartKey>,
}

/// Writes entries (consumer).
pub trait AppendEntries {
    /// Writes the entries; on failure, how many from the start are known written.
    fn append(
        &self,
        entries: &[AuditEntry],
    ) -> impl Future<Output = Result<(), (usize, TableError)>> + Send;
}

/// Reads entries (history and audit routes).
pub trait ReadEntries {
    /// A task's history, oldest first.
    fn history(
        &self,
        owner: &str,
        task: TaskId,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<EntryPage, TableError>> + Send;
    /// The owner's entries between two instants (inclusive), oldest first.
    fn between(
        &self,
        owner: &str,
        from: Timestamp,
        to: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<EntryPage, TableError>> + Send;
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn history_pk(owner: &str, task: TaskId) -> String {
    format!("USER#{owner}#TASK#{task}")
}

fn item(entry: &AuditEntry) -> Result<HashMap<String, AttributeValue>, TableError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(entry).map_err(TableError::corrupt)?;
    item.insert("pk".into(), s(history_pk(&entry.owner, entry.task_id)));
    item.insert(
        "sk".into(),
        s(format!("V#{:020}#{}", entry.version, entry.event_id)),
    );
    item.insert("owner_pk".into(), s(format!("USER#{}", entry.owner)));
    item.insert(
        "owner_sk".into(),
        s(format!("{}#{}", entry.time, entry.event_id)),
    );
    Ok(item)
}

fn page(
    items: Vec<HashMap<String, AttributeValue>>,
    last: Option<HashMap<String, AttributeValue>>,
) -> Result<EntryPage, TableError> {
    let entries = items
        .into_iter()
        .map(|i| serde_dynamo::from_item(i).map_err(TableError::corrupt))
        .collect::<Result<_, _>>()?;
    let next = last.map(start_key_of);
    Ok(EntryPage { entries, next })
}

impl AuditStore {
    /// Runs one page of a query.
    async fn page_of(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        let out = query
            .table_name(&self.table)
            .limit(limit)
            .set_exclusive_start_key(start.map(start_key_item))
            .send()
            .await
            .map_err(TableError::of)?;
        page(out.items.unwrap_or_default(), out.last_evaluated_key)
    }

    /// A store over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn write_chunk(&self, mut requests: Vec<WriteRequest>) -> Result<(), TableError> {
        for round in 0..UNPROCESSED_ROUNDS {
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
            tokio::time::sleep(Duration::from_millis(50 << round)).await;
        }
        Err(TableError::Unavailable(format!(
            "{} writes stayed unprocessed",
            requests.len()
        )))
    }
}

impl AppendEntries for AuditStore {
    async fn append(&self, entries: &[AuditEntry]) -> Result<(), (usize, TableError)> {
        // BatchWriteItem refuses two writes to one key; a batch may hold an event twice.
        let mut seen = HashSet::new();
        let mut done = 0;
        let mut chunk = Vec::new();
        let mut chunk_start = 0;
        for (i, entry) in entries.iter().enumerate() {
            if seen.insert(entry.event_id) {
                let item = item(entry).map_err(|e| (done, e))?;
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

impl ReadEntries for AuditStore {
    async fn history(
        &self,
        owner: &str,
        task: TaskId,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(history_pk(owner, task)));
        self.page_of(query, limit, start).await
    }

    async fn between(
        &self,
        owner: &str,
        from: Timestamp,
        to: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        let query = self
            .client
            .query()
            .index_name(INDEX_BY_OWNER)
            .key_condition_expression("owner_pk = :o AND owner_sk BETWEEN :from AND :to")
            .expression_attribute_values(":o", s(format!("USER#{owner}")))
            .expression_attribute_values(":from", s(from.to_string()))
            // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
            .expression_attribute_values(":to", s(format!("{to}~")));
        self.page_of(query, limit, start).await
    }
}
