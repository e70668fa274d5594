//! `GET /tasks/{id}/history`.

use lambda_http::{Body, Request, RequestExt, Response};
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::{caller, json_response, respond};
use todo_schema::{Problem, TaskId};

use super::{page, paging, start, store_problem};
use crate::store::ReadEntries;

/// A task's audit history, oldest first; readable by its owner after the task is deleted. Another
/// user's task has no history for the caller: an empty page, like a task never audited.
pub async fn task_history<S: ReadEntries>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Response<Body> {
    respond(run(store, cursors, req).await)
}

async fn run<S: ReadEntries>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let id: TaskId = req
        .path_parameters_ref()
        .and_then(|p| p.first("id"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Problem::not_found("no task with this id"))?;
    let (limit, cursor) = paging(&req.query_string_parameters(), &["limit", "cursor"])?;
    let scope = format!("history\n{}\n{id}", caller.sub);
    let from = start(cursors, &scope, cursor)?;
    let entries = store
        .history(&caller.sub, id, limit, from)
        .await
        .map_err(store_problem)?;
    Ok(json_response(200, &page(cursors, &scope, entries)))
}
