//! The `email-feedback` function (SNS trigger on the topic SES's configuration set publishes
//! bounces and complaints to): wiring only; the handler is
//! `todo_notifications::email_feedback::handle`.

use std::time::Duration;

use lambda_runtime::Error;
use todo_notifications::email_feedback::{SnsEvent, handle};
use todo_notifications::wiring;

/// An SNS batch is one record; each takes two conditional writes.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    todo_lambda::deadline::serve(MARGIN, BUDGET, move |event: SnsEvent, _| async move {
        Ok::<_, Error>(handle(store, event, todo_schema::Timestamp::now()).await?)
    })
    .await
}
