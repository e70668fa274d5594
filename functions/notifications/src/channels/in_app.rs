//! The in-app channel: each `reminder.due` placed in its owner's inbox once. It calls nothing
//! outside DynamoDB, so a third party being down never keeps a reminder out of the inbox. Owners
//! are served side by side ([`PARALLEL`]), each owner's reminders in order.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume, serve_owners};
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

/// Owners whose reminders are placed at once. Each owner's go one after another (one write in
/// flight per owner's partition key); placed one by one for the whole batch, a batch of 50 took
/// 50 round trips, about 120 reminders a second a partition at 5 ms a call
/// (`scripts/bench-pipeline --dynamodb-latency 5ms`).
pub const PARALLEL: usize = 16;

impl<S: WriteInbox + Sync> EventConsumer for InAppChannel<'_, S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn handles(&self, kind: EventType) -> bool {
        kind == EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        let (_, outcome) = serve_owners(events, PARALLEL, |_, theirs| async move {
            for (i, event) in theirs {
                let Some(n) = Notification::of(event) else {
                    continue;
                };
                if let Err(e) = self.inbox.place(&n).await {
                    return (Err((i, e.to_string())), ());
                }
            }
            (Ok(()), ())
        })
        .await;
        outcome
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
