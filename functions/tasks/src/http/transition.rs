//! `POST /tasks/{id}/complete` and `POST /tasks/{id}/reopen`: the two idempotent state changes.

use std::future::Future;

use lambda_http::{Body, Request, Response};
use todo_lambda::http::caller;
use todo_schema::{Actor, Problem, TaskId, Timestamp};

use super::{actor, if_match, store_problem, task_id, task_response};
use crate::store::{CompleteTask, ReopenTask, StoreError, Transition};

/// Completes a task. Completing a completed task answers 200 with it and records nothing.
/// Completing a recurring task creates the next occurrence, linked from the response
/// (`Link: </tasks/{next}>; rel="next-occurrence"`).
pub async fn complete_task<S: CompleteTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    run(req, |owner, id, expected, actor, now| async move {
        store.complete(&owner, id, expected, &actor, now).await
    })
    .await
}

/// Reopens a completed task. Reopening an open task answers 200 with it and records nothing.
pub async fn reopen_task<S: ReopenTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    run(req, |owner, id, expected, actor, now| async move {
        store.reopen(&owner, id, expected, &actor, now).await
    })
    .await
}

async fn run<F, Fut>(req: Request, change: F) -> Result<Response<Body>, Problem>
where
    F: FnOnce(String, TaskId, Option<u64>, Actor, Timestamp) -> Fut,
    Fut: Future<Output = Result<Transition, StoreError>>,
{
    let caller = caller(&req)?;
    let id = task_id(&req)?;
    let actor = actor(&caller);
    let done = change(caller.sub, id, if_match(&req), actor, Timestamp::now())
        .await
        .map_err(store_problem)?;
    let mut response = task_response(200, &done.task);
    if let Some(next) = &done.next
        && let Ok(v) = format!("</tasks/{}>; rel=\"next-occurrence\"", next.id).parse()
    {
        response.headers_mut().insert("link", v);
    }
    Ok(response)
}
