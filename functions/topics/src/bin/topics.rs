//! The `topics` function: wiring only; the handler is `todo_topics::resource::handle`.

use std::time::Duration;

use lambda_runtime::Error;
use serde_json::Value;
use todo_kafka::config::KafkaConfig;
use todo_lambda::deadline::serve;
use todo_topics::resource::{handle, send};

/// The work may take the whole invocation (at most Lambda's 15 minutes) but its last
/// [`ANSWER_TIME`], which the answer to CloudFormation gets.
const LONGEST: Duration = Duration::from_secs(900);
const ANSWER_TIME: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Error> {
    todo_lambda::init_tracing();
    // A bad setting is answered to CloudFormation as FAILED with the reason, not left to time out.
    let config = KafkaConfig::from_env().await.map_err(|e| e.to_string());
    let http = reqwest::Client::new();
    let (config, http) = (&config, &http);
    serve(
        Duration::ZERO,
        LONGEST,
        move |payload: Value, end| async move {
            let work_until = end
                .checked_sub(ANSWER_TIME)
                .unwrap_or_else(tokio::time::Instant::now);
            let (reply_to, response) = handle(config, payload, work_until)
                .await
                .ok_or("not a CloudFormation custom resource request (no ResponseURL)")?;
            send(http, &reply_to.response_url, &response, end).await?;
            Ok(())
        },
    )
    .await
}
