//! The `ws-disconnect` function (`$disconnect`): wiring only; the handler is
//! `todo_realtime::routes::disconnect`.

use lambda_runtime::Error;
use todo_realtime::routes::{disconnect, serve};
use todo_realtime::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|event| disconnect(&store, event)).await
}
