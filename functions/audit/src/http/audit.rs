//! `GET /audit?from=&to=`.

use lambda_http::{Body, Request, RequestExt, Response};
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::{caller, json_response, respond};
use todo_schema::{Problem, Timestamp};

use super::{page, paging, start, store_problem};
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

fn instant(name: &str, value: Option<&str>, default: Timestamp) -> Result<Timestamp, Problem> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|e| Problem::bad_request(format!("query parameter {name}: {e}"))),
    }
}

async fn run<S: ReadEntries>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = req.query_string_parameters();
    let (limit, cursor) = paging(&params, &["from", "to", "limit", "cursor"])?;
    let epoch = Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH).unwrap_or(Timestamp::MIN);
    let from = instant("from", params.first("from"), epoch)?;
    let to = instant("to", params.first("to"), Timestamp::now())?;
    if from > to {
        return Err(Problem::bad_request(
            "query parameter from: must not be after to",
        ));
    }
    // Bound to the parameters as given: a default `to` (now) moves between pages.
    let scope = format!(
        "audit\n{}\n{:?}\n{:?}",
        caller.sub,
        params.first("from"),
        params.first("to")
    );
    let start = start(cursors, &scope, cursor)?;
    let entries = store
        .between(&caller.sub, from, to, limit, start)
        .await
        .map_err(store_problem)?;
    Ok(json_response(200, &page(cursors, &scope, entries)))
}
