//! The `realtime` consumer: each task event on `todo.task.events` (consumer group
//! `todo-realtime`) to every open connection of the task's owner, as the event's CloudEvents
//! JSON, the same contract a Kafka reader applies.
//!
//! Real-time is a hint, never the record: a client that missed a message catches up with delta
//! sync (`GET /tasks/changes`). So nothing a connection does holds the partition: a post that
//! fails is logged and dropped, and a connection that answers 410 Gone is removed (unless it
//! was recorded within the last [`CONNECT_GRACE`]: a connection whose `$connect` is still
//! completing answers 410 too). Only the connections table failing is reported to the
//! mapping, which retries the rest of the partition; posts already made may then be made
//! again, and a client applies an event twice harmlessly (by id, or by the task's version).
//!
//! Owners are served [`PARALLEL`] at a time; each owner's events go out in order, each to all
//! of the owner's connections at once, so every connection sees a task's events in order.

use std::time::Duration;

use todo_lambda::kafka::{EventConsumer, KafkaBatchResponse, Stopped, consume, serve_owners};
use todo_schema::event::EventType;
use todo_schema::{EventEnvelope, Timestamp};

use crate::management::{PostError, PostToConnection};
use crate::store::{Connection, RemoveConnection, UserConnections};

/// Owners served at once.
pub const PARALLEL: usize = 16;
/// A connection recorded this recently is not removed for answering 410.
pub const CONNECT_GRACE: Duration = Duration::from_secs(10);

/// What one batch did, for the function's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    pub delivered: usize,
    pub gone: usize,
    pub failed: usize,
}

/// The consumer over the connections table and the Management API.
pub struct RealtimeConsumer<'a, S, P> {
    pub store: &'a S,
    pub api: &'a P,
}

impl<S, P> RealtimeConsumer<'_, S, P>
where
    S: UserConnections + RemoveConnection + Sync,
    P: PostToConnection + Sync,
{
    /// One owner's events, in order; the index of the first event not applied if the table
    /// failed.
    async fn owner(
        &self,
        owner: &str,
        events: Vec<(usize, &EventEnvelope)>,
    ) -> (Result<(), (usize, String)>, Posted) {
        let mut posted = Posted::default();
        let first = events.first().map(|(i, _)| *i).unwrap_or_default();
        let mut connections = match self.store.of_user(owner).await {
            Ok(c) => c,
            Err(e) => return (Err((first, e.to_string())), posted),
        };
        for (_, event) in events {
            if connections.is_empty() {
                break;
            }
            let Ok(body) = serde_json::to_vec(event) else {
                continue;
            };
            let sends = connections.iter().map(|c| self.api.post(&c.id, &body));
            let results = futures_util::future::join_all(sends).await;
            let mut kept: Vec<Connection> = Vec::with_capacity(connections.len());
            for (c, result) in connections.into_iter().zip(results) {
                match result {
                    Ok(()) => {
                        posted.delivered += 1;
                        kept.push(c);
                    }
                    Err(PostError::Gone) => {
                        posted.gone += 1;
                        let grace = Timestamp::now().before(CONNECT_GRACE);
                        if c.connected_at < grace {
                            if let Err(e) = self.store.remove_if_older(&c.user, &c.id, grace).await
                            {
                                tracing::warn!(error = %e, "gone connection not removed; it expires by TTL");
                            }
                        } else {
                            kept.push(c);
                        }
                    }
                    Err(PostError::Failed(reason)) => {
                        posted.failed += 1;
                        tracing::warn!(connection = %c.id, %reason, event_id = %event.id, "post failed; the client catches up by sync");
                        kept.push(c);
                    }
                }
            }
            connections = kept;
        }
        (Ok(()), posted)
    }
}

impl<S, P> EventConsumer for RealtimeConsumer<'_, S, P>
where
    S: UserConnections + RemoveConnection + Sync,
    P: PostToConnection + Sync,
{
    fn name(&self) -> &'static str {
        "channel-realtime"
    }

    fn handles(&self, kind: EventType) -> bool {
        kind != EventType::ReminderDue
    }

    async fn apply(&self, events: &[EventEnvelope]) -> Result<(), Stopped> {
        let (posted, outcome) =
            serve_owners(events, PARALLEL, |owner, theirs| self.owner(owner, theirs)).await;
        let mut total = Posted::default();
        for posted in posted {
            total.delivered += posted.delivered;
            total.gone += posted.gone;
            total.failed += posted.failed;
        }
        todo_lambda::metrics::emit(
            "channel-realtime",
            &[
                ("Delivered", total.delivered),
                ("Gone", total.gone),
                ("PostFailed", total.failed),
            ],
        );
        outcome
    }
}

/// Handles one MSK batch, taking no new partition past `deadline`.
pub async fn realtime_batch<S, P>(
    store: &S,
    api: &P,
    batch: aws_lambda_events::event::kafka::KafkaEvent,
    deadline: tokio::time::Instant,
) -> KafkaBatchResponse
where
    S: UserConnections + RemoveConnection + Sync,
    P: PostToConnection + Sync,
{
    consume(&RealtimeConsumer { store, api }, &batch, deadline).await
}
