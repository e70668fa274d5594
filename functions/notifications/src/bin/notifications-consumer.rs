//! The `notifications-consumer` function (MSK trigger on `todo.reminders`): wiring only; the
//! handler is `todo_notifications::consumer::notify_batch`. `WEBHOOK_URL` (optional) and the
//! secret `WEBHOOK_SECRET_ARN` names configure the signed webhook.

use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_lambda::deadline::of_invocation;
use todo_notifications::consumer::notify_batch;
use todo_notifications::webhook::{NoWebhook, Webhook};
use todo_notifications::wiring;

/// Time kept to answer the mapping; and the most one batch may take.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let inbox = wiring::store().await?;
    match std::env::var("WEBHOOK_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            let secret = todo_lambda::secrets::secret_string("WEBHOOK_SECRET_ARN")
                .await?
                .into_bytes();
            let push: &'static Webhook = Box::leak(Box::new(Webhook::new(url, secret)?));
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<KafkaEvent>| async move {
                    let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
                    Ok::<_, Error>(notify_batch(inbox, push, event.payload, deadline).await)
                },
            ))
            .await
        }
        None => {
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<KafkaEvent>| async move {
                    let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
                    Ok::<_, Error>(notify_batch(inbox, &NoWebhook, event.payload, deadline).await)
                },
            ))
            .await
        }
    }
}
