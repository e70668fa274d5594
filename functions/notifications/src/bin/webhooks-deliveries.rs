//! The `webhooks-deliveries` function: wiring only; the handler is
//! `todo_notifications::http::webhooks::list_deliveries`.

use lambda_http::Error;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::serve;
use todo_notifications::http::webhooks::list_deliveries;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let cursors = CursorCodec::from_secret()?;
    serve(|req| list_deliveries(&store, &cursors, req)).await
}
