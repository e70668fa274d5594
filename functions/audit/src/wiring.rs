//! What every audit binary does before it serves (see `todo_lambda::wiring`).

use todo_lambda::config::ConfigError;

use crate::store::AuditStore;

/// The audit table from `AUDIT_TABLE`.
pub async fn store() -> Result<&'static AuditStore, ConfigError> {
    todo_lambda::wiring::table_store("AUDIT_TABLE", AuditStore::new).await
}
