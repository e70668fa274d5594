//! The `webhooks-delete` function: wiring only; the handler is
//! `todo_notifications::http::webhooks::delete_webhook`.

use lambda_http::Error;
use todo_lambda::http::serve;
use todo_notifications::http::webhooks::delete_webhook;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|req| delete_webhook(&store, req)).await
}
