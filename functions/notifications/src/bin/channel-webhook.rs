//! The `channel-webhook` function (MSK trigger on `todo.reminders`, group
//! `todo-notifications-webhook`): wiring only; the handler is
//! `todo_notifications::channels::webhook::webhook_batch`. `WEBHOOK_URL` and the secret
//! `WEBHOOK_SECRET_ARN` names configure the signed webhook.

use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_lambda::config::required;
use todo_lambda::deadline::of_invocation;
use todo_notifications::channels::webhook::{Webhook, webhook_batch};
use todo_notifications::wiring;

/// Time kept to answer the mapping; and the most one batch may take.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let url = required("WEBHOOK_URL")?;
    let secret = todo_lambda::secrets::secret_string("WEBHOOK_SECRET_ARN")
        .await?
        .into_bytes();
    let webhook: &'static Webhook = Box::leak(Box::new(Webhook::new(url, secret)?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
            Ok::<_, Error>(webhook_batch(store, webhook, event.payload, deadline).await)
        },
    ))
    .await
}
