//! The `channel-user-webhooks` function (MSK triggers on `todo.reminders` and
//! `todo.task.events`, groups `todo-user-webhooks-reminders` and
//! `todo-user-webhooks-task-events`, and a schedule that drains retries): wiring only; the
//! handler is `todo_notifications::channels::user_webhooks`. `USER_WEBHOOK_PRIVATE_ORIGINS`
//! (comma-separated origins, usually empty) admits URLs besides public https ones.

// The runtime future nests the batch's streams deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use lambda_runtime::Error;
use todo_lambda::config::list;
use todo_notifications::channels::serving::serve_channel;
use todo_notifications::channels::user_webhooks::{UserWebhookChannel, client};
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    let channel = UserWebhookChannel {
        store,
        client: client()?,
        private_origins: list("USER_WEBHOOK_PRIVATE_ORIGINS").to_vec(),
    };
    serve_channel(&channel).await
}
