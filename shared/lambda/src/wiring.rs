//! What every function does before it serves, written once: tracing, its table from the
//! environment, the DynamoDB client. Built once per process (not per request), so the store
//! lives as long as the process does.

use crate::config::{ConfigError, required};

/// The store over the table named by `variable` (e.g. `TASKS_TABLE`), built by `store` from a
/// client configured from the environment.
pub async fn table_store<S: 'static>(
    variable: &'static str,
    store: impl FnOnce(aws_sdk_dynamodb::Client, String) -> S,
) -> Result<&'static S, ConfigError> {
    crate::init_tracing();
    let table = required(variable)?;
    let client = crate::dynamodb::client().await;
    Ok(Box::leak(Box::new(store(client, table))))
}
