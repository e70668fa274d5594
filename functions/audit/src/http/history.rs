//! `GET /tasks/{id}/history`.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{caller, list_page, paging, path_param, query};
use todo_schema::{Problem, TaskId};

use super::STORE;
use crate::store::ReadEntries;

/// A task's audit history in version order; readable by its owner after the task is deleted.
/// Another user's task, like a task that never existed, is a 404.
pub async fn task_history<S: ReadEntries>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let id: TaskId =
        path_param(&req, "id").ok_or_else(|| Problem::not_found("no task with this id"))?;
    let params = query(&req)?;
    let (limit, cursor) = paging(&params, &["limit", "cursor"])?;
    let scope = Scope::new("history", 1).part(&caller.sub).part(id);
    list_page(cursors, &scope, cursor, async |start| {
        let first_page = start.is_none();
        let page = store
            .history(&caller.sub, id, limit as i32, start)
            .await
            .map_err(|e| e.problem(STORE))?;
        // A task with no history for the caller (another user's, or none at all) is a 404, as
        // on every other task route; a task's history starts with its creation, so an owner's
        // task has one as soon as the pipeline has audited it (usually well under a second).
        if first_page && page.items.is_empty() {
            return Err(Problem::not_found("no task with this id"));
        }
        Ok(page)
    })
    .await
}
