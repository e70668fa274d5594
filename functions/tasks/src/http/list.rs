//! `GET /tasks`.

use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use todo_lambda::http::{caller, json_response};
use todo_schema::{Problem, Task, Timestamp};

use super::list_query::{parse, scope};
use super::{respond, store_problem};
use crate::store::ListTasks;
use todo_lambda::cursor::CursorCodec;

/// One page of the list response.
#[derive(Debug, Serialize)]
pub struct ListPage {
    pub items: Vec<Task>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

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
    let (query, cursor) = parse(&req.query_string_parameters())?;
    let scope = scope(&caller.sub, &query);
    let start = cursor.map(|c| cursors.decode(&scope, &c)).transpose()?;
    let page = store
        .list(&caller.sub, &query, start, Timestamp::now())
        .await
        .map_err(store_problem)?;
    let body = ListPage {
        items: page.tasks,
        next_cursor: page.next.map(|key| cursors.encode(&scope, key)),
    };
    Ok(json_response(200, &body))
}
