//! `GET /tasks`.

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{caller, json_response, query};
use todo_schema::{Problem, Timestamp};

use super::list_query::{parse, scope};
use super::{respond, store_problem};
use crate::store::ListTasks;
use todo_lambda::cursor::CursorCodec;

/// Lists the caller's tasks with filters, sort and cursor paging.
pub async fn list_tasks<S: ListTasks>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Response<Body> {
    respond(run(store, cursors, req).await)
}

async fn run<S: ListTasks>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = query(&req)?;
    let (query, cursor) = parse(&params)?;
    let scope = scope(&caller.sub, &query);
    let start = cursors.start(&scope, cursor.as_deref())?;
    let page = store
        .list(&caller.sub, &query, start, Timestamp::now())
        .await
        .map_err(store_problem)?;
    Ok(json_response(
        200,
        &cursors.page(&scope, page.tasks, page.next),
    ))
}
