//! Event-source mappings, emulated with Lambda's semantics: DynamoDB Streams and MSK pollers and
//! the schedule, each invoking its function through the runtime API.

pub mod filter;
pub mod kafka;
pub mod properties;
pub mod schedule;
pub mod stats;
pub mod streams;

use std::time::Duration;

use serde_json::Value;

use crate::runtime::Outcome;

/// The settings every mapping reads from its event's properties the same way, and the batch
/// rules they share.
#[derive(Clone, Debug)]
pub struct Batching {
    pub batch_size: usize,
    pub window: Duration,
    /// `MaximumRetryAttempts`; absent or -1 means retry until the record expires (a Kafka
    /// mapping caps that: `properties::kafka_retries`).
    pub max_retries: u32,
    /// `MaximumRecordAgeInSeconds`: a failing record older than this is sent to the on-failure
    /// destination whatever its retries (absent or -1: no limit). Kafka mappings apply it.
    pub max_record_age: Option<Duration>,
    /// `BisectBatchOnFunctionError`.
    pub bisect: bool,
}

impl Batching {
    pub fn of(properties: &Value) -> Self {
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
            bisect: properties["BisectBatchOnFunctionError"]
                .as_bool()
                .unwrap_or(false),
        }
    }

    /// The size of the batch to retry after `outcome` on a batch of `len` records, when it is
    /// split: "if the function returns an error, split the batch in two and retry" (with
    /// `BisectBatchOnFunctionError`; a partial batch failure is not a function error).
    pub(crate) fn split(&self, outcome: &Outcome, len: usize) -> Option<usize> {
        (self.bisect && !matches!(outcome, Outcome::Ok(_)) && len > 1).then(|| len.div_ceil(2))
    }
}
