//! The MSK handler: each task event becomes one audit entry.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume};
use todo_schema::EventEnvelope;
use todo_schema::audit::AuditEntry;
use todo_schema::event::EventType;

use crate::store::AppendEntries;

/// Applies task events to the audit table.
pub struct AuditConsumer<'a, S> {
    pub store: &'a S,
}

impl<S: AppendEntries + Sync> EventConsumer for AuditConsumer<'_, S> {
    fn name(&self) -> &'static str {
        "audit-consumer"
    }

    fn handles(&self, kind: EventType) -> bool {
        kind != EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        let entries: Vec<AuditEntry> = events.iter().map(AuditEntry::of).collect();
        self.store
            .append(&entries)
            .await
            .map_err(|(applied, e)| Stopped {
                applied,
                reason: e.to_string(),
            })
    }
}

/// Handles one MSK batch, taking no new partition past `deadline`.
pub async fn audit_batch<S: AppendEntries + Sync>(
    store: &S,
    batch: KafkaEvent,
    deadline: tokio::time::Instant,
) -> KafkaBatchResponse {
    consume(&AuditConsumer { store }, &batch, deadline).await
}
