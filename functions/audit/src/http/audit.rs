//! `GET /audit?from=&to=`.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{caller, list_page, paging, query};
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
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = query(&req)?;
    let (limit, cursor) = paging(&params, &["from", "to", "limit", "cursor"])?;
    let range = Range::of(&params, Timestamp::now(), None)?;
    // Bound to the parameters as given: a default `to` (now) moves between pages.
    let scope = Scope::new("audit", 1)
        .part(&caller.sub)
        .part(params.first("from").unwrap_or("-"))
        .part(params.first("to").unwrap_or("-"));
    list_page(cursors, &scope, cursor, async |start| {
        store
            .between(&caller.sub, range, limit as i32, start)
            .await
            .map_err(|e| e.problem(STORE))
    })
    .await
}
