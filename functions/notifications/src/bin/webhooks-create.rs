//! The `webhooks-create` function: wiring only; the handler is
//! `todo_notifications::http::webhooks::create_webhook`. `USER_WEBHOOK_PRIVATE_ORIGINS`
//! (comma-separated origins, usually empty) admits URLs besides public https ones.

use lambda_http::Error;
use todo_lambda::config::list;
use todo_lambda::http::serve;
use todo_notifications::http::webhooks::create_webhook;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let origins = list("USER_WEBHOOK_PRIVATE_ORIGINS");
    serve(|req| create_webhook(&store, &origins, req)).await
}
