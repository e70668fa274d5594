//! The `audit-consumer` function (MSK trigger on `todo.task.events`): wiring only; the handler
//! is `todo_audit::consumer::audit_batch`.

use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_audit::consumer::audit_batch;
use todo_audit::wiring;
use todo_lambda::deadline::of_invocation;

/// Time kept to answer the mapping; and the most one batch may take.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::writer().await?;
    let store = &store;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
            Ok::<_, Error>(audit_batch(store, event.payload, deadline).await)
        },
    ))
    .await
}
