//! The `channel-webhook` function (MSK trigger on `todo.reminders`, group
//! `todo-notifications-webhook`): wiring only; the handler is
//! `todo_notifications::channels::delivery::deliver_batch` with the webhook sender. `WEBHOOK_URL` and
//! the secret `WEBHOOK_SECRET_ARN` names configure the signed webhook.

use lambda_runtime::Error;
use todo_lambda::config::required;
use todo_notifications::channels::serving::serve;
use todo_notifications::channels::webhook::Webhook;
use todo_notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = wiring::store().await?;
    let store = &store;
    let url = required("WEBHOOK_URL")?;
    let secret = todo_lambda::secrets::secret_string("WEBHOOK_SECRET_ARN")
        .await?
        .into_bytes();
    let webhook = Webhook::new(url, secret)?;
    serve(store, &webhook).await
}
