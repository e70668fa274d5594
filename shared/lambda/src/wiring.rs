//! What every function does before it serves, written once: tracing, its table from the
//! environment, the DynamoDB client. Built once per process (not per request) and owned by
//! `main`, which lends it to the handler for as long as the runtime serves
//! (`serve(|req| handler(&store, req))`), so the store lives as long as the process does.

use crate::config::{ConfigError, required};

/// The store over the table named by `variable` (e.g. `TASKS_TABLE`), built by `store` from a
/// client configured from the environment.
pub async fn table_store<S>(
    variable: &'static str,
    store: impl FnOnce(aws_sdk_dynamodb::Client, String) -> S,
) -> Result<S, ConfigError> {
    crate::init_tracing();
    let table = required(variable)?;
    let client = crate::dynamodb::client().await;
    Ok(store(client, table))
}
