//! The `webhooks-list` function: wiring only; the handler is
//! `todo_notifications::http::webhooks::list_webhooks`.

use lambda_http::Error;
use todo_lambda::http::serve;
use todo_notifications::http::webhooks::list_webhooks;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|req| list_webhooks(&store, req)).await
}
