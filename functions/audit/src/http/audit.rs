//! `GET /audit?from=&to=`.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{ListRequest, list_page};
use todo_schema::{Problem, Timestamp};

use super::STORE;
use super::range::Range;
use crate::store::ReadEntries;

const KNOWN: [&str; 4] = ["from", "to", "limit", "cursor"];

/// The caller's audit entries between `from` and `to` (RFC 3339, inclusive; default: all time
/// up to now), oldest first.
pub async fn audit_log<S: ReadEntries>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let list = ListRequest::of(&req, &KNOWN)?;
    let range = Range::of(&list.params, Timestamp::now(), None)?;
    // Bound to the parameters as given: a default `to` (now) moves between pages.
    let scope = Scope::new("audit", 1)
        .part(&list.caller.sub)
        .part(list.params.first("from").unwrap_or("-"))
        .part(list.params.first("to").unwrap_or("-"));
    list_page(cursors, &scope, list.cursor.as_deref(), async |start| {
        store
            .between(&list.caller.sub, range, list.limit as i32, start)
            .await
            .map_err(|e| e.problem(STORE))
    })
    .await
}
