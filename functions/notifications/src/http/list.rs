//! `GET /notifications?unread=true&limit=&cursor=`.

use lambda_http::{Body, Request, RequestExt, Response};
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::{Page, caller, json_response, only_known, page_limit, respond};
use todo_schema::Problem;

use super::store_problem;
use crate::store::ReadInbox;

const KNOWN: [&str; 3] = ["unread", "limit", "cursor"];

/// The caller's notifications, newest first; `unread=true` for unread ones only.
pub async fn list_notifications<S: ReadInbox>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Response<Body> {
    respond(run(store, cursors, req).await)
}

async fn run<S: ReadInbox>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = req.query_string_parameters();
    only_known(&params, &KNOWN)?;
    let unread = match params.first("unread") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Problem::bad_request(
                "query parameter unread: use true or false",
            ));
        }
    };
    let limit = page_limit(&params)?;
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
