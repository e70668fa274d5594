//! The `channel-push` function (MSK trigger on `todo.reminders`, group
//! `todo-notifications-push`): wiring only; the handler is
//! `todo_notifications::channels::delivery::deliver_batch` with the Web Push sender. The VAPID key comes
//! from the secret `VAPID_KEY_SECRET_ARN` names; `VAPID_SUBJECT` is the contact push services
//! see.

// The runtime future nests the clients' deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use lambda_runtime::Error;
use todo_lambda::config::required;
use todo_notifications::channels::push::{Push, TIMEOUT, vapid_key_pair};
use todo_notifications::channels::serving::serve;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
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
    serve(store, &push).await
}
