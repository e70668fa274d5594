//! The `channel-realtime` function (MSK trigger on `todo.task.events`, group `todo-realtime`):
//! wiring only; the handler is `todo_realtime::channel::realtime_batch`.

// The runtime future nests the clients' deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use std::time::Duration;

use lambda_runtime::Error;
use todo_lambda::kafka::serve;
use todo_realtime::channel::realtime_batch;
use todo_realtime::wiring;

/// The most one batch may take.
const BUDGET: Duration = Duration::from_secs(25);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    let api = wiring::management().await?;
    let api = &api;
    serve(BUDGET, move |batch, deadline| {
        realtime_batch(store, api, batch, deadline)
    })
    .await
}
