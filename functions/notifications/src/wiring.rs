//! What every notifications binary does before it serves.

use lambda_http::Error;

use crate::store::InboxStore;

/// The inbox table from `NOTIFICATIONS_TABLE`, over a client configured from the environment.
pub async fn store() -> Result<&'static InboxStore, Error> {
    todo_lambda::init_tracing();
    let table = todo_lambda::config::required("NOTIFICATIONS_TABLE")?;
    let client = todo_lambda::dynamodb::client().await;
    Ok(Box::leak(Box::new(InboxStore::new(client, table))))
}
