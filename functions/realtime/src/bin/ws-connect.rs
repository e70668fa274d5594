//! The `ws-connect` function (`$connect`): wiring only; the handler is
//! `todo_realtime::routes::connect`.

use lambda_runtime::Error;
use todo_realtime::routes::{connect, serve};
use todo_realtime::wiring;
use todo_schema::Timestamp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    serve(|event| connect(&store, event, Timestamp::now())).await
}
