//! What every tasks binary does before it serves (see `todo_lambda::wiring`).

use todo_lambda::config::ConfigError;

use crate::store::DynamoTaskStore;

/// The tasks table from `TASKS_TABLE`.
pub async fn store() -> Result<DynamoTaskStore, ConfigError> {
    todo_lambda::wiring::table_store("TASKS_TABLE", DynamoTaskStore::new).await
}
