//! The AWS SDK configuration every client is built from, once per process in `main`.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, retry::RetryConfig};

/// Each attempt gives up after this long; a Lambda must not hang on a stalled connection.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole operation, retries included, fits well inside the functions' 10 s timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The configuration from the environment the SDK's way: region and credentials from the
/// Lambda environment, each service's endpoint from `AWS_ENDPOINT_URL_<SERVICE>` /
/// `AWS_ENDPOINT_URL` when set (the local cloud and the tests use that), standard retries with
/// jittered backoff, and timeouts that fit inside the function timeout.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}
