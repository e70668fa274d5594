//! The `audit-history` function: wiring only; the handler is `todo_audit::http::history::task_history`.

use lambda_http::Error;
use todo_audit::http::history::task_history;
use todo_audit::wiring;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let cursors = CursorCodec::from_secret()?;
    serve(|req| task_history(&store, &cursors, req)).await
}
