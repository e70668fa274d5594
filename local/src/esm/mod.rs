//! Event-source mappings, emulated with Lambda's semantics: DynamoDB Streams and MSK pollers and
//! the schedule, each invoking its function through the runtime API.

pub mod filter;
pub mod kafka;
pub mod properties;
pub mod schedule;
pub mod streams;

use std::time::Duration;

use serde_json::Value;

/// The settings every mapping reads from its event's properties the same way.
pub(crate) struct Batching {
    pub batch_size: usize,
    pub window: Duration,
    /// `MaximumRetryAttempts`; absent or -1 means retry until the record expires (a Kafka
    /// mapping caps that: `properties::kafka_retries`).
    pub max_retries: u32,
    /// `MaximumRecordAgeInSeconds`: a failing record older than this is sent to the on-failure
    /// destination whatever its retries (absent or -1: no limit). Kafka mappings apply it.
    pub max_record_age: Option<Duration>,
}

impl Batching {
    pub(crate) fn of(properties: &Value) -> Self {
        Self {
            batch_size: properties["BatchSize"].as_u64().unwrap_or(100) as usize,
            window: Duration::from_secs(
                properties["MaximumBatchingWindowInSeconds"]
                    .as_u64()
                    .unwrap_or(0),
            ),
            max_retries: properties["MaximumRetryAttempts"]
                .as_i64()
                .filter(|n| *n >= 0)
                .map(|n| n as u32)
                .unwrap_or(u32::MAX),
            max_record_age: properties["MaximumRecordAgeInSeconds"]
                .as_i64()
                .filter(|n| *n >= 0)
                .map(|n| Duration::from_secs(n as u64)),
        }
    }
}
