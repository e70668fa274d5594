//! `POST /notifications/{id}/read`.

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{caller, json_response, path_param};
use todo_schema::{Problem, Timestamp};
use uuid::Uuid;

use super::STORE;
use crate::store::ReadInbox;

/// Marks a notification read (idempotent: the first read time stays). Another user's
/// notification is a 404, like a missing one.
pub async fn mark_read<S: ReadInbox>(store: &S, req: Request) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let not_found = || Problem::not_found("no notification with this id");
    let id: Uuid = path_param(&req, "id").ok_or_else(not_found)?;
    let n = store
        .mark_read(&caller.sub, id, Timestamp::now())
        .await
        .map_err(|e| e.problem(STORE))?
        .ok_or_else(not_found)?;
    Ok(json_response(200, &n))
}
