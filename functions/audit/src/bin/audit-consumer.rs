//! The `audit-consumer` function (MSK trigger on `todo.task.events`): wiring only; the handler
//! is `todo_audit::consumer::audit_batch`.

// The runtime future nests the store's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use std::time::Duration;

use lambda_runtime::Error;
use todo_audit::consumer::audit_batch;
use todo_audit::wiring;
use todo_lambda::kafka::serve;

/// The most one batch may take.
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::writer().await?;
    let store = &store;
    serve(BUDGET, move |batch, deadline| {
        audit_batch(store, batch, deadline)
    })
    .await
}
