//! `GET /audit/export?from=&to=`: the caller's audit entries as JSON Lines
//! (`application/jsonl`, one entry per line, oldest first), for a user's data-access request.
//!
//! A Lambda response is at most 6 MB, so one answer holds up to [`EXPORT_BYTES`] of entries and,
//! when more follow, a `Link: <...>; rel="next"` header naming the rest (the same route with a
//! signed `cursor`). A client follows the links until there is none.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{ListRequest, percent_encode};
use todo_schema::{Problem, Timestamp};

use super::STORE;
use super::range::Range;
use crate::store::ReadEntries;

/// The media type of JSON Lines.
pub const JSON_LINES: &str = "application/jsonl";
/// Bytes of entries after which an answer stops. A Query returns at most 1 MB of items
/// (DynamoDB's limit, whatever `Limit` says), so an answer ends under 1.5 MB of entries, far
/// under Lambda's 6 MB even once API Gateway has escaped it into its JSON envelope. Typical
/// entries (about 0.9 KB) fill it with one Query of [`EXPORT_BATCH`]: a part is one round trip
/// and about 45 ms of the function's CPU (`scripts/bench-account`).
pub const EXPORT_BYTES: usize = 512 * 1024;
/// Entries a Query may return. At 25 a Query and 2 MB a part, a part took 100 round trips
/// (1.5 s at 5 ms a call).
pub const EXPORT_BATCH: i32 = 1_000;

/// One part of the caller's export.
pub async fn audit_export<S: ReadEntries>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
    now: Timestamp,
) -> Result<Response<Body>, Problem> {
    // No `limit`: a part holds what fits (`EXPORT_BYTES`).
    let list = ListRequest::of(&req, &["from", "to", "cursor"])?;
    let range = Range::of(&list.params, now, None)?;
    let given = |name| list.params.first(name).unwrap_or("-").to_string();
    let scope = Scope::new("audit-export", 1)
        .part(&list.caller.sub)
        .part(given("from"))
        .part(given("to"));
    let mut start = cursors.start(&scope, list.cursor.as_deref()).await?;
    let mut body = Vec::new();
    loop {
        let page = store
            .between(&list.caller.sub, range, EXPORT_BATCH, start)
            .await
            .map_err(|e| e.problem(STORE))?;
        for entry in &page.items {
            serde_json::to_writer(&mut body, entry)
                .map_err(|_| Problem::internal("the export could not be produced"))?;
            body.push(b'\n');
        }
        start = page.next;
        if start.is_none() || body.len() >= EXPORT_BYTES {
            break;
        }
    }
    let mut response = Response::builder()
        .status(200)
        .header("content-type", JSON_LINES);
    if let Some(key) = start {
        let next = cursors.encode(scope.as_str(), key).await?;
        let mut query = vec![format!("cursor={next}")];
        for name in ["from", "to"] {
            if let Some(v) = list.params.first(name) {
                query.push(format!("{name}={}", percent_encode(v)));
            }
        }
        response = response.header(
            "link",
            format!("</audit/export?{}>; rel=\"next\"", query.join("&")),
        );
    }
    response
        .body(Body::from(body))
        .map_err(|_| Problem::internal("the export could not be produced"))
}
