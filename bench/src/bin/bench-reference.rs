//! The reference function of `scripts/bench-functions`: the least a DynamoDB-backed Lambda
//! function does. It builds the client in `main` the SDK's default way and reads one item per
//! invocation (a consistent GetItem, as `tasks-get` does). Every function is measured as a ratio
//! to this, so a noisy machine's drift cancels out.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TASKS_TABLE")?;
    let (client, table) = (&client, table.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let key = |name: &str| {
            AttributeValue::S(event.payload[name].as_str().unwrap_or_default().to_string())
        };
        let out = client
            .get_item()
            .table_name(table)
            .key("pk", key("pk"))
            .key("sk", key("sk"))
            .consistent_read(true)
            .send()
            .await?;
        Ok::<_, Error>(json!({ "found": out.item.is_some() }))
    }))
    .await
}
