//! The `settings-get` function: wiring only; the handler is
//! `todo_notifications::http::settings::get_settings`.

use lambda_http::Error;
use todo_lambda::http::serve;
use todo_notifications::http::settings::get_settings;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|req| get_settings(&store, req)).await
}
