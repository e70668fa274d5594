//! A channel as a Lambda function: what it is invoked with (a batch from its MSK mapping, or
//! its schedule's drain of what it parked), the deadline each invocation works to, and the
//! serve loop its binary runs.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_lambda::deadline::serve as serve_deadlines;
use todo_lambda::kafka::{KafkaBatchResponse, MARGIN, consume};
use todo_schema::Timestamp;

use super::delivery::{ChannelConsumer, Sender};
use super::parked;
use crate::store::{Deliveries, Parking};

/// The most one batch may take (the functions' timeout is 60 s); the time kept to answer the
/// mapping is every Kafka consumer's (`todo_lambda::kafka::MARGIN`).
pub const BUDGET: Duration = Duration::from_secs(50);

/// What a channel function does when invoked: a batch from its MSK mapping, or its
/// schedule's drain of what it parked.
pub trait ChannelFunction: Sync {
    /// One MSK batch, taking no new partition past `deadline`.
    fn batch(
        &self,
        batch: KafkaEvent,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = KafkaBatchResponse> + Send;
    /// Sends what is parked until `now`, stopping at `deadline`.
    fn drain(
        &self,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<parked::DrainReport, todo_lambda::table::TableError>> + Send;
}

impl<S: Deliveries + Parking + Sync, D: Sender + Sync> ChannelFunction
    for ChannelConsumer<'_, S, D>
{
    async fn batch(&self, batch: KafkaEvent, deadline: tokio::time::Instant) -> KafkaBatchResponse {
        consume(self, &batch, deadline).await
    }

    async fn drain(
        &self,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> Result<parked::DrainReport, todo_lambda::table::TableError> {
        ChannelConsumer::drain(self, now, deadline).await
    }
}

/// Runs a channel function: the wiring every sending channel's binary shares. Its MSK
/// mappings send it batches; its schedule sends `{"job":"drain-parked"}` (the template's
/// `Input`), which sends what is parked and due.
pub async fn serve_channel<F: ChannelFunction>(channel: &F) -> Result<(), lambda_runtime::Error> {
    serve_deadlines(
        MARGIN,
        BUDGET,
        move |payload: serde_json::Value, deadline| async move {
            let answer = match parked::Invocation::of(payload)? {
                parked::Invocation::Batch(batch) => {
                    serde_json::to_value(channel.batch(batch, deadline).await)?
                }
                parked::Invocation::Drain => {
                    serde_json::to_value(channel.drain(Timestamp::now(), deadline).await?)?
                }
            };
            Ok(answer)
        },
    )
    .await
}

/// Runs a sending channel's function: [`serve_channel`] with a [`ChannelConsumer`].
pub async fn serve<S: Deliveries + Parking + Sync, D: Sender + Sync>(
    store: &S,
    sender: &D,
) -> Result<(), lambda_runtime::Error> {
    let consumer = ChannelConsumer {
        store,
        sender,
        max_backoff: todo_lambda::config::channel_max_backoff()?,
    };
    serve_channel(&consumer).await
}
