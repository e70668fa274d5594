//! The `audit-search` function (`GET /admin/audit`): wiring only; the handler is
//! `todo_audit::http::search::admin_audit`.

use lambda_http::Error;
use todo_audit::http::search::admin_audit;
use todo_audit::wiring;
use todo_lambda::admin::AdminPolicy;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::serve;
use todo_schema::Timestamp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let cursors = CursorCodec::from_secret()?;
    let admins = AdminPolicy::from_env();
    serve(|req| admin_audit(&store, &cursors, &admins, req, Timestamp::now())).await
}
