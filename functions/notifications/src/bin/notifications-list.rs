//! The `notifications-list` function: wiring only; the handler is
//! `todo_notifications::http::list::list_notifications`.

use lambda_http::Error;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::serve;
use todo_notifications::http::list::list_notifications;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let cursors = CursorCodec::from_secret()?;
    serve(|req| list_notifications(&store, &cursors, req)).await
}
