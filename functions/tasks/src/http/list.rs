//! `GET /tasks`.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::{caller, list_page, query};
use todo_schema::{Problem, Timestamp};

use super::list_query::{parse, scope};
use super::store_problem;
use crate::store::ListTasks;

/// Lists the caller's tasks with filters, sort and cursor paging.
pub async fn list_tasks<S: ListTasks>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let params = query(&req)?;
    let (query, cursor) = parse(&params)?;
    let scope = scope(&caller.sub, &query);
    list_page(cursors, &scope, cursor.as_deref(), async |start| {
        store
            .list(&caller.sub, &query, start, Timestamp::now())
            .await
            .map_err(store_problem)
    })
    .await
}
