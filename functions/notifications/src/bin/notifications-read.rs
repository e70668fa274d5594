//! The `notifications-read` function: wiring only; the handler is
//! `todo_notifications::http::read::mark_read`.

use lambda_http::Error;
use todo_lambda::http::serve;
use todo_notifications::http::read::mark_read;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|req| mark_read(&store, req)).await
}
