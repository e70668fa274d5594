//! `PATCH /tasks/{id}` with a JSON Merge Patch (RFC 7396).

use lambda_http::{Body, Request, Response};
use todo_lambda::http::json_body;
use todo_schema::{Problem, TaskPatch};

use super::{store_problem, task_response, task_write};
use crate::store::UpdateTask;

/// The media types a patch may come as.
const PATCH_MEDIA_TYPES: [&str; 2] = ["application/merge-patch+json", "application/json"];

/// Updates a task; `If-Match` makes it conditional (412 when stale).
pub async fn update_task<S: UpdateTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let write = task_write(&req)?;
    let patch: TaskPatch = json_body(&req, &PATCH_MEDIA_TYPES)?;
    let patch = patch.check().map_err(Problem::validation)?;
    let task = store.update(&write, &patch).await.map_err(store_problem)?;
    Ok(task_response(200, &task))
}
