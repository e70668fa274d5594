//! The `channel-in-app` function (MSK trigger on `todo.reminders`, group `todo-notifications`):
//! wiring only; the handler is `todo_notifications::channels::in_app::in_app_batch`.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_lambda::deadline::of_invocation;
use todo_notifications::channels::in_app::in_app_batch;
use todo_notifications::channels::{BUDGET, MARGIN};
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let inbox = wiring::store().await?;
    let inbox = &inbox;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
            Ok::<_, Error>(in_app_batch(inbox, event.payload, deadline).await)
        },
    ))
    .await
}
