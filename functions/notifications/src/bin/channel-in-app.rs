//! The `channel-in-app` function (MSK trigger on `todo.reminders`, group `todo-notifications`):
//! wiring only; the handler is `todo_notifications::channels::in_app::in_app_batch`.

// The runtime future nests the store's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use lambda_runtime::Error;
use todo_lambda::kafka::serve;
use todo_notifications::channels::in_app::in_app_batch;
use todo_notifications::channels::serving::BUDGET;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let inbox = wiring::store().await?;
    let inbox = &inbox;
    serve(BUDGET, move |batch, deadline| {
        in_app_batch(inbox, batch, deadline)
    })
    .await
}
