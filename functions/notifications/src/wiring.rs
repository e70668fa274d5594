//! What every notifications binary does before it serves (see `todo_lambda::wiring`).

use todo_lambda::config::ConfigError;

use crate::store::InboxStore;

/// The inbox table from `NOTIFICATIONS_TABLE`.
pub async fn store() -> Result<InboxStore, ConfigError> {
    todo_lambda::wiring::table_store("NOTIFICATIONS_TABLE", InboxStore::new).await
}
