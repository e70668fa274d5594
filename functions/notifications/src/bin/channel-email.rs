//! The `channel-email` function (MSK trigger on `todo.reminders`, group
//! `todo-notifications-email`): wiring only; the handler is
//! `todo_notifications::channels::email::email_batch`. `EMAIL_SENDER` (a verified SES
//! identity), `EMAIL_CONFIGURATION_SET` (optional) and `TASK_LINK_TEMPLATE` configure it.

// The runtime future nests the SES client's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_lambda::config::required;
use todo_lambda::deadline::of_invocation;
use todo_notifications::channels::email::{Email, email_batch};
use todo_notifications::wiring;

/// Time kept to answer the mapping; and the most one batch may take.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let email = Email {
        client: aws_sdk_sesv2::Client::new(&todo_lambda::aws::sdk_config().await),
        sender: required("EMAIL_SENDER")?,
        configuration_set: std::env::var("EMAIL_CONFIGURATION_SET")
            .ok()
            .filter(|v| !v.is_empty()),
        link_template: required("TASK_LINK_TEMPLATE")?,
        settings: store,
    };
    let email: &'static Email<'static, _> = Box::leak(Box::new(email));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
            Ok::<_, Error>(email_batch(store, email, event.payload, deadline).await)
        },
    ))
    .await
}
