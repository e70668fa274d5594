//! `GET /tasks/{id}`.

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{caller, empty_response, header};
use todo_schema::Problem;

use super::{etag, not_found, store_problem, task_id, task_response};
use crate::store::GetTask;

/// Reads a task; `If-None-Match` with its current ETag answers 304 without a body.
pub async fn get_task<S: GetTask>(store: &S, req: Request) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let id = task_id(&req)?;
    let task = store
        .get(&caller.sub, id)
        .await
        .map_err(store_problem)?
        .ok_or_else(not_found)?;
    let tag = etag(&task);
    let unchanged = header(&req, "if-none-match").is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
    });
    if unchanged {
        let mut response = empty_response(304);
        if let Ok(v) = tag.parse() {
            response.headers_mut().insert("etag", v);
        }
        return Ok(response);
    }
    Ok(task_response(200, &task))
}
