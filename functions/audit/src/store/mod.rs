//! The audit table.
//!
//! | key | value |
//! |---|---|
//! | `pk` | `USER#<owner>#TASK#<task id>`: one task's history, reachable only through its owner |
//! | `sk` | `V#<version, 20 digits>#<event id>`: the task's version order, unique per event |
//! | `owner_pk`, `owner_sk` | `USER#<owner>`, `<time>#<event id>`: the GSI `by-owner` for `/audit` |
//! | `actor_pk` | `user#<id>`, or `system#<id>#<shard>`: with `owner_sk`, the GSI `by-actor` (admin search) |
//! | `task_pk` | `<task id>`: with `sk`, the GSI `by-task`: a task's history across owners (admin search) |
//! | `op_pk` | `<operation>#<YYYY-MM-DD>#<shard>`: with `owner_sk`, the GSI `by-operation` |
//! | `day_pk` | `<YYYY-MM-DD>#<shard>`: with `owner_sk`, the GSI `by-day`: everything |
//! | `ttl` | the entry's time plus the retention period (`AUDIT_RETENTION_DAYS`), in epoch seconds |
//!
//! One more kind of item, the directory of days (`days`): `pk` `DAYS`, `sk` `<YYYY-MM-DD>`,
//! `ttl` the end of the day plus the retention period.
//!
//! No partition key may take a share of every user's writes (a GSI partition that throttles
//! throttles the table's writes too): the operation and day indexes are partitioned by day, and
//! the keys every user shares are written in `shards` (`<shard>`: two digits, from the event
//! id); a search over a time range walks its days and gathers every shard of each.
//! A task's history is sorted by the version each change produced, not by a clock: clocks of
//! concurrent writers disagree, versions do not (the tasks table grants each exactly once).
//!
//! Keys derive from the event alone, so writing an event twice rewrites the same item: a
//! redelivered batch leaves one entry per event.
//!
//! `writer` appends the consumer's entries (after marking their days in `days`, the directory
//! of days that hold sharded entries), `reader` serves an owner's history and audit pages,
//! `search` plans and runs the administrator's search over the other indexes, `gather` merges
//! the shards of a key, `shards` says which keys are sharded and how.

mod days;
mod gather;
mod reader;
mod search;
mod shards;
mod writer;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use todo_lambda::dynamodb::user_pk;
use todo_lambda::table::{Item, TableError};
use todo_schema::audit::AuditEntry;
use todo_schema::{Actor, TaskId, Timestamp};

pub use days::DAYS_PK;
pub use reader::{EntryPage, Range, ReadEntries};
pub use search::{
    SEARCH_QUERIES_PER_PAGE, SEARCH_ROUNDS_PER_PAGE, Search, SearchEntries, SearchPage, SearchStart,
};
pub use shards::{AUDIT_SHARDS, shard_of};
pub use writer::AppendEntries;

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
    /// The days this process has marked in the directory (`days`).
    days_marked: Arc<Mutex<HashSet<chrono::NaiveDate>>>,
}

fn history_pk(owner: &str, task: TaskId) -> String {
    format!("{}#TASK#{task}", user_pk(owner))
}

/// An entry's keys in the table (`pk`, `sk`: a task's history in version order) and in the
/// `by-owner` index (`owner_pk`, `owner_sk`: the owner's entries in time order). As a start
/// key, where a read of the owner's entries resumes after this one.
pub fn keys_of(entry: &AuditEntry) -> todo_lambda::cursor::StartKey {
    [
        ("pk", history_pk(&entry.owner, entry.task_id)),
        ("sk", format!("V#{:020}#{}", entry.version, entry.event_id)),
        ("owner_pk", user_pk(&entry.owner)),
        ("owner_sk", format!("{}#{}", entry.time, entry.event_id)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// The day partition an instant falls in.
pub fn day_of(at: Timestamp) -> chrono::NaiveDate {
    at.as_datetime().date_naive()
}

fn day_key(day: chrono::NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The unsharded `actor_pk` of an actor: a user's key, and the base (and legacy key) of a
/// system actor's shards.
pub fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::User { id } => format!("user#{id}"),
        Actor::System { id } => format!("system#{id}"),
    }
}

fn entry_of(item: Item) -> Result<AuditEntry, TableError> {
    serde_dynamo::from_item(item).map_err(TableError::corrupt)
}

impl AuditStore {
    /// A store over `table` that keeps entries forever.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: None,
            days_marked: Arc::default(),
        }
    }

    /// Entries written from now on expire (DynamoDB TTL) `retention` after their time.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// A Query of this table, for the reader and the search to give its index and key
    /// condition.
    fn query(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.table)
    }
}
