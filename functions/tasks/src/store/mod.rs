//! The tasks table behind per-operation traits, so each function (and its IAM policy) depends on
//! exactly the operations it performs, and handlers can be driven by any implementation.

mod changes;
mod complete;
mod create;
mod delete;
mod errors;
mod get;
pub mod item;
mod list;
mod reopen;
mod seed;
pub mod sweep;
mod update;
mod write;

use std::future::Future;

use todo_schema::command::CheckedPatch;
use todo_schema::{Actor, FieldError, Task, TaskId, Timestamp};

pub use changes::{Change, ChangePage, ChangesFrom, SYNC_OVERLAP, SYNC_TOKEN_VALIDITY};
pub use list::{ListQuery, Page, SortField, StartKey, StatusFilter};

/// What can go wrong talking to the table, in terms the HTTP edge can map once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The task does not exist for this owner.
    #[error("task not found")]
    NotFound,
    /// `If-Match` named a version that is not current.
    #[error("the task has changed since that version")]
    VersionMismatch,
    /// A concurrent request holds the same item; a retry will go through.
    #[error("a concurrent request is changing the same task")]
    Conflict,
    /// The change would leave the task invalid (only known once the stored task is seen).
    #[error("the change would make the task invalid")]
    Invalid(Vec<FieldError>),
    /// The Idempotency-Key was already used for a different request.
    #[error("the idempotency key was used for a different request")]
    IdempotencyMismatch,
    /// DynamoDB is throttling, timing out or failing: retry later.
    #[error("the task store is unavailable: {0}")]
    Unavailable(String),
    /// A bug or a corrupt item.
    #[error("internal store error: {0}")]
    Internal(String),
}

/// The table and the client, built once per process.
#[derive(Clone, Debug)]
pub struct DynamoTaskStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoTaskStore {
    /// A store over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// The claim a create makes on an Idempotency-Key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The client's key.
    pub key: String,
    /// A digest of the request body; the same key with another body is refused.
    pub request_digest: String,
}

/// The outcome of a create.
#[derive(Clone, Debug, PartialEq)]
pub enum Created {
    /// The task was created now.
    New(Task),
    /// The key was seen within 24 h with the same request: this is the task it created then.
    Replayed(Task),
}

/// The outcome of a state change that is idempotent (complete, reopen).
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The task after the call.
    pub task: Task,
    /// Whether this call changed it (and so recorded an event).
    pub changed: bool,
    /// The next occurrence created by completing a recurring task.
    pub next: Option<Task>,
}

impl Transition {
    /// This call changed the task (and recorded an event); no occurrence was created.
    pub fn changed(task: Task) -> Self {
        Self {
            task,
            changed: true,
            next: None,
        }
    }

    /// The task was already in the state asked for: nothing changed, nothing recorded.
    pub fn unchanged(task: Task) -> Self {
        Self {
            task,
            changed: false,
            next: None,
        }
    }
}

/// `POST /tasks`.
pub trait CreateTask {
    /// Writes a new task, at most once per Idempotency-Key.
    fn create(
        &self,
        task: &Task,
        actor: &Actor,
        claim: Option<&IdempotencyClaim>,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;
}

/// `GET /tasks/{id}`.
pub trait GetTask {
    /// The owner's task, or `None`.
    fn get(
        &self,
        owner: &str,
        id: TaskId,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
}

/// `GET /tasks`.
pub trait ListTasks {
    /// One page of the owner's tasks.
    fn list(
        &self,
        owner: &str,
        query: &ListQuery,
        start: Option<StartKey>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

/// What a change to a task writes to and how it is stamped: the owner's task `id`, only while
/// at `expected_version` (`If-Match`; `None`: any version), recording `actor` at `now`. Update,
/// complete and reopen each take one, so a route names its write once and every store reads
/// it alike.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskWrite {
    pub owner: String,
    pub id: TaskId,
    pub expected_version: Option<u64>,
    pub actor: Actor,
    pub now: Timestamp,
}

impl TaskWrite {
    /// A write to `owner`'s task `id` by `actor` at `now`, at whatever version it is.
    pub fn new(owner: impl Into<String>, id: TaskId, actor: &Actor, now: Timestamp) -> Self {
        Self {
            owner: owner.into(),
            id,
            expected_version: None,
            actor: actor.clone(),
            now,
        }
    }
}

/// `PATCH /tasks/{id}`.
pub trait UpdateTask {
    /// Applies a checked merge patch.
    fn update(
        &self,
        write: &TaskWrite,
        patch: &CheckedPatch,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;
}

/// `POST /tasks/{id}/complete`.
pub trait CompleteTask {
    /// Completes the task (and schedules the next occurrence of a recurring one).
    fn complete(
        &self,
        write: &TaskWrite,
    ) -> impl Future<Output = Result<Transition, StoreError>> + Send;
}

/// `POST /tasks/{id}/reopen`.
pub trait ReopenTask {
    /// Reopens a completed task.
    fn reopen(
        &self,
        write: &TaskWrite,
    ) -> impl Future<Output = Result<Transition, StoreError>> + Send;
}

/// `DELETE /tasks/{id}`.
pub trait DeleteTask {
    /// Deletes the task for good, leaving a tombstone stamped `now` for delta sync.
    fn delete(
        &self,
        owner: &str,
        id: TaskId,
        expected_version: Option<u64>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// `GET /tasks/changes`.
pub trait TaskChanges {
    /// One page of the owner's changes: all current tasks ([`ChangesFrom::Start`]), or every
    /// task and tombstone changed at or after an instant, in the order of their changes.
    fn changes(
        &self,
        owner: &str,
        from: &ChangesFrom,
        start: Option<StartKey>,
        limit: u32,
    ) -> impl Future<Output = Result<ChangePage, StoreError>> + Send;
}
