//! `GET /audit?from=&to=`.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{caller, json_response, paging, query, respond};
use todo_schema::{Problem, Timestamp};

use super::STORE;
use super::range::Range;
use crate::store::ReadEntries;

/// The caller's audit entries between `from` and `to` (RFC 3339, inclusive; default: all time
/// up to now), oldest first.
pub async fn audit_log<S: ReadEntries>(
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
    let params = query(&req)?;
    let (limit, cursor) = paging(&params, &["from", "to", "limit", "cursor"])?;
    let Range { from, to } = Range::of(&params, Timestamp::now(), None)?;
    // Bound to the parameters as given: a default `to` (now) moves between pages.
    let scope = Scope::new("audit", 1)
        .part(&caller.sub)
        .part(params.first("from").unwrap_or("-"))
        .part(params.first("to").unwrap_or("-"));
    let start = cursors.start(&scope, cursor)?;
    let entries = store
        .between(&caller.sub, from, to, limit as i32, start)
        .await
        .map_err(|e| e.problem(STORE))?;
    Ok(json_response(
        200,
        &cursors.page(&scope, entries.entries, entries.next),
    ))
}
