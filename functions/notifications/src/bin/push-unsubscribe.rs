//! The `push-unsubscribe` function: wiring only; the handler is
//! `todo_notifications::http::push::unsubscribe`.

use lambda_http::Error;
use todo_lambda::http::serve;
use todo_notifications::http::push::unsubscribe;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|req| unsubscribe(&store, req)).await
}
