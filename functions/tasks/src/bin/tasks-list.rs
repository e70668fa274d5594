//! The `tasks-list` function: wiring only; the handler is `todo_tasks::http::list::list_tasks`.

use todo_lambda::http::serve;
use todo_tasks::http::list::list_tasks;
use todo_tasks::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let store = wiring::store().await?;
    let cursors = todo_lambda::cursor::CursorCodec::from_secret()?;
    serve(|req| list_tasks(&store, &cursors, req)).await
}
