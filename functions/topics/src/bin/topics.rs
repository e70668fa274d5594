//! The `topics` function: wiring only; the handler is `todo_topics::resource::handle`.

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use todo_kafka::config::KafkaConfig;
use todo_topics::resource::{handle, send};

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    // A bad setting is answered to CloudFormation as FAILED with the reason, not left to time out.
    let config: &'static Result<KafkaConfig, String> = Box::leak(Box::new(
        KafkaConfig::from_env().await.map_err(|e| e.to_string()),
    ));
    let http: &'static reqwest::Client = Box::leak(Box::new(reqwest::Client::new()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Work until 10 s before the timeout; the answer gets those last 10 s.
        let end = todo_lambda::deadline::of_invocation(
            event.context.deadline,
            Duration::ZERO,
            Duration::from_secs(900),
        );
        let work_until = end
            .checked_sub(Duration::from_secs(10))
            .unwrap_or_else(tokio::time::Instant::now);
        let (reply_to, response) = handle(config, event.payload, work_until)
            .await
            .ok_or("not a CloudFormation custom resource request (no ResponseURL)")?;
        send(http, &reply_to.response_url, &response, end).await?;
        Ok::<_, Error>(())
    }))
    .await
}
