//! The accounting, readable from outside: `GET /_capacity` on the DynamoDB endpoint answers
//! it as JSON, and [`super::EmbeddedDynamo::capacity`] gives it to tests. The load driver
//! reads it to print the hottest keys and project them to a target rate.

use serde::{Deserialize, Serialize};

use super::accounting::{Ledger, Meter, Partition};

/// What every partition key consumed since the accounting started (or was reset).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// Every partition key of every table and index that consumed anything, sorted.
    pub partitions: Vec<PartitionUsage>,
    /// Requests refused because a key had used its per-second limit.
    pub throttled_requests: u64,
}

/// One partition key's read and write units: total and busiest second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionUsage {
    #[serde(flatten)]
    pub partition: Partition,
    pub read: Meter,
    pub write: Meter,
}

impl CapacityReport {
    /// The ledger as it is now.
    pub fn of(ledger: &Ledger) -> Self {
        let (usage, throttled_requests) = ledger.snapshot();
        Self {
            partitions: usage
                .into_iter()
                .map(|(partition, u)| PartitionUsage {
                    partition,
                    read: u.read,
                    write: u.write,
                })
                .collect(),
            throttled_requests,
        }
    }

    /// The units of one kind that a table (`index: None`) or one of its indexes consumed,
    /// over all its keys.
    pub fn units(&self, table: &str, index: Option<&str>, write: bool) -> f64 {
        self.partitions
            .iter()
            .filter(|p| p.partition.table == table && p.partition.index.as_deref() == index)
            .map(|p| if write { p.write.units } else { p.read.units })
            .sum()
    }

    /// One key's usage, if it consumed anything.
    pub fn key(&self, table: &str, index: Option<&str>, key: &str) -> Option<&PartitionUsage> {
        self.partitions.iter().find(|p| {
            p.partition.table == table
                && p.partition.index.as_deref() == index
                && p.partition.key == key
        })
    }
}
