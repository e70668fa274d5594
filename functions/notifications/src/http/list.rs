//! `GET /notifications?unread=true&limit=&cursor=`.

use lambda_http::{Body, Request, RequestExt, Response};
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::{Page, caller, json_response, problem_response};
use todo_schema::Problem;
use todo_schema::limits::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};

use super::store_problem;
use crate::store::ReadInbox;

const KNOWN: [&str; 3] = ["unread", "limit", "cursor"];

/// The caller's notifications, newest first; `unread=true` for unread ones only.
pub async fn list_notifications<S: ReadInbox>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Response<Body> {
    run(store, cursors, req)
        .await
        .unwrap_or_else(|p| problem_response(&p))
}

async fn run<S: ReadInbox>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = req.query_string_parameters();
    if let Some(unknown) = params.iter().map(|(k, _)| k).find(|k| !KNOWN.contains(k)) {
        return Err(Problem::bad_request(format!(
            "query parameter {unknown}: unknown; use {}",
            KNOWN.join(", ")
        )));
    }
    let unread = match params.first("unread") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Problem::bad_request(
                "query parameter unread: use true or false",
            ));
        }
    };
    let limit = match params.first("limit") {
        None => PAGE_SIZE_DEFAULT,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=PAGE_SIZE_MAX).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "query parameter limit: a whole number from 1 to {PAGE_SIZE_MAX}"
                ))
            })?,
    };
    let scope = format!("notifications\n{}\n{unread}", caller.sub);
    let start = params
        .first("cursor")
        .map(|c| cursors.decode(&scope, c))
        .transpose()?;
    let page = store
        .list(&caller.sub, unread, limit as i32, start)
        .await
        .map_err(store_problem)?;
    Ok(json_response(
        200,
        &Page {
            items: page.items,
            next_cursor: page.next.map(|k| cursors.encode(&scope, k)),
        },
    ))
}
