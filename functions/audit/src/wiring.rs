//! What every audit binary does before it serves (see `todo_lambda::wiring`).

use std::time::Duration;

use todo_lambda::config::ConfigError;

use crate::store::AuditStore;

/// The audit table from `AUDIT_TABLE`.
pub async fn store() -> Result<AuditStore, ConfigError> {
    todo_lambda::wiring::table_store("AUDIT_TABLE", AuditStore::new).await
}

/// The audit table for writing: entries expire `AUDIT_RETENTION_DAYS` (1 or more) after their
/// time.
pub async fn writer() -> Result<AuditStore, ConfigError> {
    let days = retention_days()?;
    todo_lambda::wiring::table_store("AUDIT_TABLE", move |client, table| {
        AuditStore::new(client, table).with_retention(Duration::from_secs(days * 86_400))
    })
    .await
}

fn retention_days() -> Result<u64, ConfigError> {
    let name = "AUDIT_RETENTION_DAYS";
    todo_lambda::config::required(name)?
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=36_500).contains(d))
        .ok_or(ConfigError::Invalid {
            name,
            reason: "a whole number of days from 1 to 36500".into(),
        })
}
