//! The `channel-email` function (MSK trigger on `todo.reminders`, group
//! `todo-notifications-email`): wiring only; the handler is
//! `todo_notifications::channels::delivery::deliver_batch` with the SES sender. `EMAIL_SENDER` (a
//! verified SES identity), `EMAIL_CONFIGURATION_SET` (optional) and `TASK_LINK_TEMPLATE`
//! configure it.

// The runtime future nests the SES client's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use lambda_runtime::Error;
use todo_lambda::config::required;
use todo_notifications::channels::email::Email;
use todo_notifications::channels::serving::serve;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    let email = Email {
        client: aws_sdk_sesv2::Client::new(&todo_lambda::aws::sdk_config().await),
        sender: required("EMAIL_SENDER")?,
        configuration_set: std::env::var("EMAIL_CONFIGURATION_SET")
            .ok()
            .filter(|v| !v.is_empty()),
        link_template: required("TASK_LINK_TEMPLATE")?,
        settings: store,
    };
    serve(store, &email).await
}
