//! `POST /tasks/{id}/complete` and `POST /tasks/{id}/reopen`: the two idempotent state changes.

use lambda_http::{Body, Request, Response};
use todo_schema::Problem;

use super::{store_problem, task_response, task_write};
use crate::store::{CompleteTask, ReopenTask, StoreError, TaskWrite, Transition};

/// Completes a task. Completing a completed task answers 200 with it and records nothing.
/// Completing a recurring task creates the next occurrence, linked from the response
/// (`Link: </tasks/{next}>; rel="next-occurrence"`).
pub async fn complete_task<S: CompleteTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    run(req, async |write| store.complete(write).await).await
}

/// Reopens a completed task. Reopening an open task answers 200 with it and records nothing.
pub async fn reopen_task<S: ReopenTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    run(req, async |write| store.reopen(write).await).await
}

async fn run(
    req: Request,
    change: impl AsyncFnOnce(&TaskWrite) -> Result<Transition, StoreError>,
) -> Result<Response<Body>, Problem> {
    let write = task_write(&req)?;
    let done = change(&write).await.map_err(store_problem)?;
    let mut response = task_response(200, &done.task);
    if let Some(next) = &done.next
        && let Ok(v) = format!("</tasks/{}>; rel=\"next-occurrence\"", next.id).parse()
    {
        response.headers_mut().insert("link", v);
    }
    Ok(response)
}
