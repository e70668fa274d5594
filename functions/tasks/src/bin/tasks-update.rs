//! The `tasks-update` function: wiring only; the handler is `todo_tasks::http::update::update_task`.

use todo_lambda::http::serve;
use todo_tasks::http::update::update_task;
use todo_tasks::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let store = wiring::store().await?;
    serve(|req| update_task(&store, req)).await
}
