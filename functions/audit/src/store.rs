//! The audit table.
//!
//! | key | value |
//! |---|---|
//! | `pk` | `USER#<owner>#TASK#<task id>`: one task's history, reachable only through its owner |
//! | `sk` | `V#<version, 20 digits>#<event id>`: the task's version order, unique per event |
//! | `owner_pk`, `owner_sk` | `USER#<owner>`, `<time>#<event id>`: the GSI `by-owner` for `/audit` |
//! | `actor_pk` | `<actor kind>#<actor id>`: with `owner_sk`, the GSI `by-actor` (admin search) |
//! | `task_pk` | `<task id>`: with `sk`, the GSI `by-task`: a task's history across owners (admin search) |
//! | `op_pk` | `<operation>#<YYYY-MM-DD>`: with `owner_sk`, the GSI `by-operation`, one partition a day |
//! | `day_pk` | `<YYYY-MM-DD>`: with `owner_sk`, the GSI `by-day`: everything, one partition a day |
//! | `ttl` | the entry's time plus the retention period (`AUDIT_RETENTION_DAYS`), in epoch seconds |
//!
//! The operation and day indexes are partitioned by day so that no partition takes every
//! write of the log (a GSI partition that throttles throttles the table's writes too); a search
//! over a time range walks its days.
//! A task's history is sorted by the version each change produced, not by a clock: clocks of
//! concurrent writers disagree, versions do not (the tasks table grants each exactly once).
//!
//! Keys derive from the event alone, so writing an event twice rewrites the same item: a
//! redelivered batch leaves one entry per event.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{n, page, query_page, s, start_key_item, user_pk};
use todo_lambda::retry::{Backoff, Failure, Policy, Retries};
use todo_lambda::table::{Item, TableError};
use todo_schema::audit::AuditEntry;
use todo_schema::{Actor, TaskId, Timestamp};

/// BatchWriteItem takes at most 25 writes.
const BATCH_LIMIT: usize = 25;
/// Rounds of retrying unprocessed items before giving up on a batch: five, 50 ms apart,
/// doubling. A failed request is not retried here: the table's errors are classified for the
/// consumer, which reports the records for the mapping to retry.
const UNPROCESSED_RETRIES: Policy = Policy {
    backoff: Backoff::doubling(Duration::from_millis(50), Duration::from_millis(800)),
    attempts: Some(5),
    deadline: None,
};
/// The owner index.
pub const INDEX_BY_OWNER: &str = "by-owner";
/// The administrator's indexes.
pub const INDEX_BY_ACTOR: &str = "by-actor";
pub const INDEX_BY_TASK: &str = "by-task";
pub const INDEX_BY_OPERATION: &str = "by-operation";
pub const INDEX_BY_DAY: &str = "by-day";

/// The audit table and its client.
#[derive(Clone, Debug)]
pub struct AuditStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// How long an entry is kept after its time; `None` keeps it forever.
    retention: Option<Duration>,
}

/// One page of entries.
pub type EntryPage = Paged<AuditEntry>;

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

/// What an administrator searches for: every entry matching all the given filters, within
/// `from` and `to` (inclusive).
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    pub actor: Option<Actor>,
    pub task: Option<TaskId>,
    /// An event type's wire name (`task.updated`).
    pub operation: Option<String>,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Where the next page of a search starts: the day partition (for searches that walk days) and
/// the key within the query.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchStart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<chrono::NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<StartKey>,
}

/// One page of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<SearchStart>,
}

/// The most Queries one page of a search may cost: a filtered page or a walk over empty days
/// ends early with a cursor, never runs on.
pub const SEARCH_QUERIES_PER_PAGE: usize = 32;

/// Searches every user's entries (the administrator's route).
pub trait SearchEntries {
    /// One page of the entries matching `search`, oldest first (a task's in version order).
    fn search(
        &self,
        search: &Search,
        limit: usize,
        start: Option<SearchStart>,
    ) -> impl Future<Output = Result<SearchPage, TableError>> + Send;
}

fn history_pk(owner: &str, task: TaskId) -> String {
    format!("{}#TASK#{task}", user_pk(owner))
}

/// The day partition an instant falls in.
pub fn day_of(at: Timestamp) -> chrono::NaiveDate {
    at.as_datetime().date_naive()
}

fn day_key(day: chrono::NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The `actor_pk` of an actor.
pub fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::User { id } => format!("user#{id}"),
        Actor::System { id } => format!("system#{id}"),
    }
}

fn item(
    entry: &AuditEntry,
    retention: Option<Duration>,
) -> Result<HashMap<String, AttributeValue>, TableError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(entry).map_err(TableError::corrupt)?;
    item.insert("pk".into(), s(history_pk(&entry.owner, entry.task_id)));
    item.insert(
        "sk".into(),
        s(format!("V#{:020}#{}", entry.version, entry.event_id)),
    );
    item.insert("owner_pk".into(), s(user_pk(&entry.owner)));
    item.insert(
        "owner_sk".into(),
        s(format!("{}#{}", entry.time, entry.event_id)),
    );
    let day = day_key(day_of(entry.time));
    item.insert("actor_pk".into(), s(actor_key(&entry.actor)));
    item.insert("task_pk".into(), s(entry.task_id.to_string()));
    item.insert("op_pk".into(), s(format!("{}#{day}", entry.operation)));
    item.insert("day_pk".into(), s(day));
    if let Some(keep) = retention {
        let expires = entry.time.after(keep).epoch_seconds();
        item.insert("ttl".into(), n(expires));
    }
    Ok(item)
}

fn entry_of(item: Item) -> Result<AuditEntry, TableError> {
    serde_dynamo::from_item(item).map_err(TableError::corrupt)
}

impl AuditStore {
    /// Runs one page of a query.
    async fn page_of(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        query_page(query.table_name(&self.table), limit, start, entry_of).await
    }

    /// A store over `table` that keeps entries forever.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: None,
        }
    }

    /// Entries written from now on expire (DynamoDB TTL) `retention` after their time.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    async fn write_chunk(&self, mut requests: Vec<WriteRequest>) -> Result<(), TableError> {
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
            .expression_attribute_values(":o", s(user_pk(owner)))
            .expression_attribute_values(":from", s(from.to_string()))
            // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
            .expression_attribute_values(":to", s(format!("{to}~")));
        self.page_of(query, limit, start).await
    }
}

/// The index a search reads and how: the most selective filter is the key, the rest filter.
enum Plan {
    Task(TaskId),
    Actor(String),
    Days { operation: Option<String> },
}

impl Plan {
    fn of(q: &Search) -> Self {
        match (&q.task, &q.actor) {
            (Some(task), _) => Plan::Task(*task),
            (None, Some(actor)) => Plan::Actor(actor_key(actor)),
            (None, None) => Plan::Days {
                operation: q.operation.clone(),
            },
        }
    }
}

impl SearchEntries for AuditStore {
    async fn search(
        &self,
        q: &Search,
        limit: usize,
        start: Option<SearchStart>,
    ) -> Result<SearchPage, TableError> {
        let plan = Plan::of(q);
        let last_day = day_of(q.to);
        let mut day = start
            .as_ref()
            .and_then(|s| s.day)
            .unwrap_or_else(|| day_of(q.from));
        let mut key = start.and_then(|s| s.key);
        let mut entries = Vec::new();
        for _ in 0..SEARCH_QUERIES_PER_PAGE {
            let mut names = HashMap::new();
            let mut values = HashMap::new();
            let mut filters = Vec::new();
            let from = s(q.from.to_string());
            // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
            let to = s(format!("{}~", q.to));
            names.insert("#t".to_string(), "owner_sk".to_string());
            values.insert(":from".to_string(), from);
            values.insert(":to".to_string(), to);
            let (index, key_condition) = match &plan {
                Plan::Task(task) => {
                    values.insert(":k".into(), s(task.to_string()));
                    filters.push("#t BETWEEN :from AND :to");
                    (INDEX_BY_TASK, "task_pk = :k")
                }
                Plan::Actor(actor) => {
                    values.insert(":k".into(), s(actor.clone()));
                    (INDEX_BY_ACTOR, "actor_pk = :k AND #t BETWEEN :from AND :to")
                }
                Plan::Days {
                    operation: Some(op),
                } => {
                    values.insert(":k".into(), s(format!("{op}#{}", day_key(day))));
                    (
                        INDEX_BY_OPERATION,
                        "op_pk = :k AND #t BETWEEN :from AND :to",
                    )
                }
                Plan::Days { operation: None } => {
                    values.insert(":k".into(), s(day_key(day)));
                    (INDEX_BY_DAY, "day_pk = :k AND #t BETWEEN :from AND :to")
                }
            };
            if let (Some(actor), Plan::Task(_)) = (&q.actor, &plan) {
                values.insert(":a".into(), s(actor_key(actor)));
                filters.push("actor_pk = :a");
            }
            if let (Some(op), Plan::Task(_) | Plan::Actor(_)) = (&q.operation, &plan) {
                names.insert("#op".into(), "operation".into());
                values.insert(":op".into(), s(op.clone()));
                filters.push("#op = :op");
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(key_condition)
                .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .limit((limit - entries.len()) as i32)
                .set_exclusive_start_key(key.take().map(start_key_item))
                .send()
                .await
                .map_err(TableError::of)?;
            let got = page(out, entry_of)?;
            entries.extend(got.items);
            key = got.next;
            let walking = matches!(plan, Plan::Days { .. });
            if key.is_none() {
                match day.succ_opt() {
                    Some(next) if walking && next <= last_day => day = next,
                    _ => {
                        return Ok(SearchPage {
                            entries,
                            next: None,
                        });
                    }
                }
            }
            if entries.len() >= limit {
                break;
            }
        }
        let next = SearchStart {
            day: matches!(plan, Plan::Days { .. }).then_some(day),
            key,
        };
        Ok(SearchPage {
            entries,
            next: Some(next),
        })
    }
}
