//! The `channel-realtime` function (MSK trigger on `todo.task.events`, group `todo-realtime`):
//! wiring only; the handler is `todo_realtime::channel::realtime_batch`.

use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_lambda::deadline::of_invocation;
use todo_realtime::channel::realtime_batch;
use todo_realtime::wiring;

/// Time kept to answer the mapping; and the most one batch may take.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(25);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    let api = wiring::management().await?;
    let api = &api;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
            Ok::<_, Error>(realtime_batch(store, api, event.payload, deadline).await)
        },
    ))
    .await
}
