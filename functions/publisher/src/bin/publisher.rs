//! The `publisher` function: wiring only; the handler is `todo_kafka::relay::relay`, which
//! `todo-admin` also redrives failed batches through.

// The runtime future nests the Kafka client's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_kafka::config::KafkaConfig;
use todo_kafka::producer::KafkaSink;
use todo_kafka::relay::{deadline, relay};

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    let sink = KafkaSink::new(KafkaConfig::from_env().await?);
    let sink = &sink;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = deadline(event.context.deadline);
        Ok::<_, Error>(relay(sink, event.payload, deadline).await)
    }))
    .await
}
