//! The in-app channel: each `reminder.due` placed in its owner's inbox once. It calls nothing
//! outside DynamoDB, so a third party being down never keeps a reminder out of the inbox.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume};
use todo_schema::EventEnvelope;
use todo_schema::event::EventType;
use todo_schema::notification::Notification;

use crate::store::WriteInbox;

/// Places reminder events in the inbox.
pub struct InAppChannel<'a, S> {
    pub inbox: &'a S,
}

/// The function's name in its metrics (the template's alarms use it).
pub const NAME: &str = "channel-in-app";

impl<S: WriteInbox + Sync> EventConsumer for InAppChannel<'_, S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn handles(&self, kind: EventType) -> bool {
        kind == EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        for (i, event) in events.iter().enumerate() {
            let Some(n) = Notification::of(event) else {
                continue;
            };
            self.inbox.place(&n).await.map_err(|e| Stopped {
                applied: i,
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// Handles one MSK batch, taking no new partition past `deadline`.
pub async fn in_app_batch<S: WriteInbox + Sync>(
    inbox: &S,
    batch: KafkaEvent,
    deadline: tokio::time::Instant,
) -> KafkaBatchResponse {
    consume(&InAppChannel { inbox }, &batch, deadline).await
}
