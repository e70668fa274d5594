//! The `audit-consumer` function (MSK trigger on `todo.task.events`): wiring only; the handler
//! is `todo_audit::consumer::audit_batch`.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_audit::consumer::audit_batch;
use todo_audit::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            Ok::<_, Error>(audit_batch(store, event.payload).await)
        },
    ))
    .await
}
