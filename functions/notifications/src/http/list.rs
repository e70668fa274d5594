//! `GET /notifications?unread=true&limit=&cursor=`.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{ListRequest, list_page, single};
use todo_schema::Problem;

use super::STORE;
use crate::store::ReadInbox;

const KNOWN: [&str; 3] = ["unread", "limit", "cursor"];

/// The caller's notifications, newest first; `unread=true` for unread ones only.
pub async fn list_notifications<S: ReadInbox>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let list = ListRequest::of(&req, &KNOWN)?;
    let unread = match single(&list.params, "unread")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Problem::bad_request(
                "query parameter unread: use true or false",
            ));
        }
    };
    let scope = Scope::new("notifications", 1)
        .part(&list.caller.sub)
        .part(unread);
    list_page(cursors, &scope, list.cursor.as_deref(), async |start| {
        store
            .list(&list.caller.sub, unread, list.limit as i32, start)
            .await
            .map_err(|e| e.problem(STORE))
    })
    .await
}
