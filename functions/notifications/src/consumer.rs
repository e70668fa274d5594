//! The MSK handler: each `reminder.due` becomes one inbox notification, then one webhook POST.
//!
//! At least once everywhere, one effect per event: the inbox write is conditional on the id, and
//! the webhook is marked sent on the notification, so a redelivered batch neither duplicates the
//! notification nor posts it again once it was accepted. A webhook that fails is a transient
//! failure: the record is retried (and, after the mapping's retries, dead-lettered), while the
//! notification already waits in the inbox.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume};
use todo_schema::event::EventType;
use todo_schema::notification::Notification;
use todo_schema::{EventEnvelope, Timestamp};

use crate::store::{Stored, WriteInbox};
use crate::webhook::Push;

/// Applies reminder events to the inbox and the webhook.
pub struct NotificationConsumer<'a, S, P> {
    pub inbox: &'a S,
    pub push: &'a P,
}

impl<S: WriteInbox + Sync, P: Push + Sync> EventConsumer for NotificationConsumer<'_, S, P> {
    fn name(&self) -> &'static str {
        "notifications-consumer"
    }

    fn handles(&self, kind: EventType) -> bool {
        kind == EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        for (i, event) in events.iter().enumerate() {
            let Some(n) = Notification::of(event) else {
                continue;
            };
            let stop = |reason: String| Stopped { applied: i, reason };
            let stored = self
                .inbox
                .store(&n)
                .await
                .map_err(|e| stop(e.to_string()))?;
            if !self.push.enabled() || stored == (Stored::Existing { webhook_done: true }) {
                continue;
            }
            self.push.push(&n).await.map_err(stop)?;
            self.inbox
                .mark_delivered(&n, Timestamp::now())
                .await
                .map_err(|e| stop(e.to_string()))?;
        }
        Ok(())
    }
}

/// Handles one MSK batch, taking no new partition past `deadline`.
pub async fn notify_batch<S: WriteInbox + Sync, P: Push + Sync>(
    inbox: &S,
    push: &P,
    batch: KafkaEvent,
    deadline: tokio::time::Instant,
) -> KafkaBatchResponse {
    consume(&NotificationConsumer { inbox, push }, &batch, deadline).await
}
