//! One handler per route. Each is a plain async function over the request and the store
//! operation it needs, answering `Result<Response, Problem>`: every failure leaves with `?` and
//! `todo_lambda::http::serve` turns it into one problem+json response.

pub mod changes;
pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod list_query;
pub mod transition;
pub mod update;

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{Caller, caller, header, json_response, path_param};
use todo_lambda::table::TableError;
use todo_schema::{Actor, Problem, Task, TaskId, Timestamp};

use crate::store::{StoreError, TaskWrite};

/// The actor for events caused by this caller.
pub(crate) fn actor(caller: &Caller) -> Actor {
    Actor::User {
        id: caller.sub.clone(),
    }
}

/// The write a change route makes: the caller's task the path names (401 without a caller,
/// 404 for a malformed id), at the version `If-Match` requires, by the caller, now.
pub(crate) fn task_write(req: &Request) -> Result<TaskWrite, Problem> {
    let caller = caller(req)?;
    let id = task_id(req)?;
    Ok(TaskWrite {
        actor: actor(&caller),
        owner: caller.sub,
        id,
        expected_version: if_match(req),
        now: Timestamp::now(),
    })
}

/// The `{id}` path parameter. A malformed id names no task: 404, like a missing one.
pub(crate) fn task_id(req: &Request) -> Result<TaskId, Problem> {
    path_param(req, "id").ok_or_else(not_found)
}

/// The one answer for a task that is missing or belongs to someone else.
pub(crate) fn not_found() -> Problem {
    Problem::not_found("no task with this id")
}

/// The strong ETag of a task's current version.
pub fn etag(task: &Task) -> String {
    format!("\"{}\"", task.version)
}

/// The version `If-Match` requires, if the header is present. `*` requires only existence; a
/// value that is not one of our ETags (a weak tag, garbage) can match no version, so the write
/// fails with 412 like any stale tag.
pub(crate) fn if_match(req: &Request) -> Option<u64> {
    let value = header(req, "if-match")?.trim();
    if value == "*" {
        return None;
    }
    Some(
        value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX),
    )
}

/// A task as a JSON response with its ETag.
pub(crate) fn task_response(status: u16, task: &Task) -> Response<Body> {
    let mut response = json_response(status, task);
    if let Ok(v) = etag(task).parse() {
        response.headers_mut().insert("etag", v);
    }
    response
}

/// The store, as problems name it.
const STORE: &str = "the task store";

/// Maps a store error to the problem the client sees, logging what operators need.
pub(crate) fn store_problem(err: StoreError) -> Problem {
    match err {
        StoreError::NotFound => not_found(),
        StoreError::VersionMismatch => Problem::precondition_failed(
            "the task has changed since the version in If-Match; fetch it and retry",
        ),
        StoreError::Conflict => {
            Problem::conflict("another request is changing this task; retry shortly")
        }
        StoreError::Invalid(errors) => Problem::validation(errors),
        StoreError::IdempotencyMismatch => Problem::unprocessable(
            "this Idempotency-Key was already used with a different request body",
        ),
        StoreError::Unavailable(reason) => TableError::Unavailable(reason).problem(STORE),
        StoreError::Internal(reason) => TableError::Failed(reason).problem(STORE),
    }
}
