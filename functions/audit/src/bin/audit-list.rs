//! The `audit-list` function: wiring only; the handler is `todo_audit::http::audit::audit_log`.

use lambda_http::Error;
use todo_audit::http::audit::audit_log;
use todo_audit::wiring;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let cursors = CursorCodec::from_secret()?;
    serve(|req| audit_log(&store, &cursors, req)).await
}
