//! What every tasks binary does before it serves: tracing, configuration, the client. Built once
//! per process (not per request); they live as long as it does.

use lambda_http::Error;

use crate::store::DynamoTaskStore;

/// The tasks table from `TASKS_TABLE`, over a client configured from the environment.
pub async fn store() -> Result<&'static DynamoTaskStore, Error> {
    todo_lambda::init_tracing();
    let table = todo_lambda::config::tasks_table()?;
    let client = todo_lambda::dynamodb::client().await;
    Ok(Box::leak(Box::new(DynamoTaskStore::new(client, table))))
}
