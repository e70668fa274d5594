//! `DELETE /tasks/{id}`.

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{caller, empty_response};
use todo_schema::{Problem, Timestamp};

use super::{if_match, store_problem, task_id};
use crate::store::DeleteTask;

/// Deletes a task for good (leaving a tombstone for delta sync): 204, or 412 when `If-Match`
/// is stale.
pub async fn delete_task<S: DeleteTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let id = task_id(&req)?;
    store
        .delete(&caller.sub, id, if_match(&req), Timestamp::now())
        .await
        .map_err(store_problem)?;
    Ok(empty_response(204))
}
