//! The `publisher` function: wiring only; the handler is `todo_kafka::relay::relay`, which
//! `todo-admin` also redrives failed batches through.

// The runtime future nests the Kafka client's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::Error;
use todo_kafka::config::KafkaConfig;
use todo_kafka::producer::KafkaSink;
use todo_kafka::relay::{DEADLINE_MARGIN, PUBLISH_BUDGET, relay};
use todo_lambda::deadline::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    let sink = KafkaSink::new(KafkaConfig::from_env().await?);
    let sink = &sink;
    serve(
        DEADLINE_MARGIN,
        PUBLISH_BUDGET,
        move |batch: Event, deadline| async move { Ok(relay(sink, batch, deadline).await) },
    )
    .await
}
