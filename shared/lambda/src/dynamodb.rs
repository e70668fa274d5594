//! The DynamoDB client, built once per process in `main`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::cursor::StartKey;

/// A client of the SDK configuration every function shares (`crate::aws::sdk_config`: the
/// endpoint from `AWS_ENDPOINT_URL_DYNAMODB` when set, bounded retries and timeouts).
pub async fn client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&crate::aws::sdk_config().await)
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
