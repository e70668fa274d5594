//! The `tasks-sweep-worker` function (invoked asynchronously by the reminder sweep with its
//! part of a burst): wiring only; the work is `todo_tasks::sweep::sweep_part`.

use std::time::Duration;

use lambda_runtime::Error;
use todo_tasks::sweep::fanout::Part;
use todo_tasks::sweep::sweep_part;
use todo_tasks::wiring;

/// Kept after the last new work to finish what is in flight and answer: a write's retries are
/// bounded by the SDK's operation timeout (5 s).
const MARGIN: Duration = Duration::from_secs(6);
/// A part lasts until the next sweep, 10 s at most; the function's timeout bounds it too.
const BUDGET: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    todo_lambda::deadline::serve(MARGIN, BUDGET, move |part: Part, deadline| async move {
        Ok::<_, Error>(sweep_part(store, part, deadline).await?)
    })
    .await
}
