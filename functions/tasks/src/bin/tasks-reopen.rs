//! The `tasks-reopen` function: wiring only; the handler is `todo_tasks::http::transition::reopen_task`.

use todo_lambda::http::serve;
use todo_tasks::http::transition::reopen_task;
use todo_tasks::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let store = wiring::store().await?;
    serve(|req| reopen_task(&store, req)).await
}
