//! The `channel-push` function (MSK trigger on `todo.reminders`, group
//! `todo-notifications-push`): wiring only; the handler is
//! `todo_notifications::channels::push::push_batch`. The VAPID key comes from the secret
//! `VAPID_KEY_SECRET_ARN` names; `VAPID_SUBJECT` is the contact push services see.

// The runtime future nests the clients' deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_lambda::config::required;
use todo_lambda::deadline::of_invocation;
use todo_notifications::channels::push::{Push, TIMEOUT, push_batch, vapid_key_pair};
use todo_notifications::wiring;

/// Time kept to answer the mapping; and the most one batch may take.
const MARGIN: Duration = Duration::from_secs(2);
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let secret = todo_lambda::secrets::secret_string("VAPID_KEY_SECRET_ARN").await?;
    let push = Push {
        http: reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        vapid: vapid_key_pair(&secret)?,
        subject: required("VAPID_SUBJECT")?,
        store,
    };
    let push: &'static Push<'static, _> = Box::leak(Box::new(push));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move {
            let deadline = of_invocation(event.context.deadline, MARGIN, BUDGET);
            Ok::<_, Error>(push_batch(store, push, event.payload, deadline).await)
        },
    ))
    .await
}
