//! The DynamoDB client, built once per process in `main`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::cursor::StartKey;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, retry::RetryConfig};

/// Each attempt gives up after this long; a Lambda must not hang on a stalled connection.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole operation, retries included, fits well inside the functions' 10 s timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// A client configured from the environment the SDK's way: region and credentials from the
/// Lambda environment, the endpoint from `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` when
/// set (the local cloud and the tests use that), standard retries with jittered backoff, and
/// timeouts that fit inside the function timeout.
pub async fn client() -> aws_sdk_dynamodb::Client {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&shared)
}

/// A page's start key as DynamoDB's `ExclusiveStartKey` (our keys are all strings).
pub fn start_key_item(key: StartKey) -> HashMap<String, AttributeValue> {
    key.into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect()
}

/// DynamoDB's `LastEvaluatedKey` as the start key a cursor carries.
pub fn start_key_of(item: HashMap<String, AttributeValue>) -> StartKey {
    item.into_iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k, v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_keys_round_trip_through_dynamodb_keys() {
        let key = StartKey::from([
            ("pk".to_string(), "USER#a".to_string()),
            ("sk".to_string(), "TASK#1".to_string()),
        ]);
        assert_eq!(start_key_of(start_key_item(key.clone())), key);
    }
}
