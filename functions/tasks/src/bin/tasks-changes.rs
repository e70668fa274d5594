//! The `tasks-changes` function: wiring only; the handler is
//! `todo_tasks::http::changes::task_changes`.

use todo_lambda::http::serve;
use todo_schema::Timestamp;
use todo_tasks::http::changes::task_changes;
use todo_tasks::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let store = wiring::store().await?;
    let tokens = todo_lambda::cursor::CursorCodec::from_secret()?;
    serve(|req| task_changes(&store, &tokens, req, Timestamp::now())).await
}
