//! The `tasks-sweep-reminders` function (a schedule, every minute): wiring only; the work is
//! `todo_tasks::sweep::sweep_for_until`, covering the minute until the next invocation, handing
//! a burst to the sweep-worker function.

use std::time::Duration;

use lambda_runtime::Error;
use todo_tasks::sweep::{EVERY, sweep_for_until};
use todo_tasks::wiring;

/// Kept after the last new work to finish what is in flight and answer: a write's retries are
/// bounded by the SDK's operation timeout (5 s).
const MARGIN: Duration = Duration::from_secs(6);
/// A run ends before the next minute's invocation starts: the function's concurrency is 1, so
/// a run still going then would hold the next one back.
const BUDGET: Duration = Duration::from_secs(55);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let (workers, fanout) = wiring::sweep_workers().await?;
    let (store, workers) = (&store, &workers);
    let window = todo_lambda::config::sweep_window()?;
    // EventBridge Scheduler sends the schedule's Input; any JSON starts a sweep.
    todo_lambda::deadline::serve(
        MARGIN,
        BUDGET,
        move |_: serde_json::Value, deadline| async move {
            Ok::<_, Error>(
                sweep_for_until(store, workers, fanout, window, EVERY, Some(deadline)).await?,
            )
        },
    )
    .await
}
