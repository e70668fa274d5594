//! The `tasks-sweep-reminders` function (a schedule, every minute): wiring only; the work is
//! `todo_tasks::sweep::sweep_for`, covering the minute until the next invocation.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_tasks::sweep::{EVERY, sweep_for};
use todo_tasks::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    let window = todo_lambda::config::sweep_window()?;
    lambda_runtime::run(service_fn(
        // EventBridge Scheduler sends the schedule's Input; any JSON starts a sweep.
        move |_: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Error>(sweep_for(store, window, EVERY).await?)
        },
    ))
    .await
}
