//! What every audit binary does before it serves.

use lambda_http::Error;

use crate::store::AuditStore;

/// The audit table from `AUDIT_TABLE`, over a client configured from the environment.
pub async fn store() -> Result<&'static AuditStore, Error> {
    todo_lambda::init_tracing();
    let table = todo_lambda::config::required("AUDIT_TABLE")?;
    let client = todo_lambda::dynamodb::client().await;
    Ok(Box::leak(Box::new(AuditStore::new(client, table))))
}
