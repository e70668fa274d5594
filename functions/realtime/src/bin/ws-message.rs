//! The `ws-message` function (the `ping` and `$default` routes): wiring only; the handler is
//! `todo_realtime::routes::message`.

use lambda_runtime::Error;
use todo_realtime::routes::{message, serve};

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    serve(message).await
}
