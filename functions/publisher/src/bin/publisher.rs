//! The `publisher` function: wiring only; the handler is `todo_publisher::relay::relay`.

// The runtime future nests the Kafka client's deeply; its layout needs more than the default.
#![recursion_limit = "256"]

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use todo_publisher::kafka::{KafkaConfig, KafkaSink};
use todo_publisher::relay::{deadline, relay};

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    let sink: &'static KafkaSink =
        Box::leak(Box::new(KafkaSink::new(KafkaConfig::from_env().await?)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = deadline(event.context.deadline);
        Ok::<_, Error>(relay(sink, event.payload, deadline).await)
    }))
    .await
}
