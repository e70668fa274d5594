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
use crate::store::{ReadEntries, keys_of};

/// The media type of JSON Lines.
pub const JSON_LINES: &str = "application/jsonl";
/// Bytes of entries after which an answer stops: it ends with the entry that reaches this, so
/// it holds at most this and one entry (an entry is at most about 60 KB of JSON: two copies of
/// a task whose 4,000 characters of notes may each escape to six bytes), far under Lambda's
/// 6 MB even once API Gateway has escaped it into its JSON envelope.
pub const EXPORT_BYTES: usize = 512 * 1024;
/// Entries the first Query of a part reads (typical entries are about 0.9 KB: most of a part);
/// the next reads about what the part still takes. A part is then two round trips. (At 25 a
/// Query and 2 MB a part, a part took 100 round trips: 1.5 s at 5 ms a call,
/// `scripts/bench-account`.)
pub const EXPORT_BATCH: i32 = 500;

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
    let (mut limit, mut written) = (EXPORT_BATCH, 0);
    loop {
        let page = store
            .between(&list.caller.sub, range, limit, start)
            .await
            .map_err(|e| e.problem(STORE))?;
        // The part ends at the entry that fills it, wherever that falls in the Query's page:
        // an entry's JSON can be six times its stored size (notes of control characters
        // escape to `\u0001`), so a whole 1 MB page could make an answer of over 5 MB.
        let mut next = page.next;
        let last = page.items.len().saturating_sub(1);
        for (i, entry) in page.items.iter().enumerate() {
            serde_json::to_writer(&mut body, entry)
                .map_err(|_| Problem::internal("the export could not be produced"))?;
            body.push(b'\n');
            written += 1;
            if body.len() >= EXPORT_BYTES && i < last {
                next = Some(keys_of(entry));
                break;
            }
        }
        start = next;
        if start.is_none() || body.len() >= EXPORT_BYTES {
            break;
        }
        // The next Query reads about what the rest of the part takes, at the size of the
        // entries so far, so little is read only to be read again by the next part.
        let each = (body.len() / written.max(1)).max(1);
        limit = ((EXPORT_BYTES - body.len()) / each + 1).min(EXPORT_BATCH as usize) as i32;
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
