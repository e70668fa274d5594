//! What the Kafka mappings tell the console besides their invocations: how far each partition's
//! consumer group is behind the log's end (Lambda's `OffsetLag` metric, per mapping) and how many
//! records they set aside on their dead-letter topic.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A record a mapping set aside on its dead-letter topic.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeadLetter {
    pub at: String,
    pub function: String,
    /// `<topic>-<partition>@<offset>` it came from.
    pub origin: String,
    pub reason: String,
    /// Where it is now: the dead-letter topic, its partition and offset.
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// How many dead letters the console page lists.
const KEPT: usize = 100;

/// Shared by every mapping of one cloud.
#[derive(Debug, Default)]
pub struct MappingStats {
    /// `"<function> <topic>-<partition>"` to records not yet consumed, as of its last poll.
    lag: Mutex<BTreeMap<String, i64>>,
    dead_lettered: AtomicU64,
    recent: Mutex<std::collections::VecDeque<DeadLetter>>,
}

impl MappingStats {
    /// A partition's lag as its mapping last saw it.
    pub fn record_lag(&self, key: String, lag: i64) {
        self.lags_locked().insert(key, lag.max(0));
    }

    /// Records set aside on a dead-letter topic.
    pub fn dead_lettered(&self, records: usize) {
        self.dead_lettered
            .fetch_add(records as u64, Ordering::Relaxed);
    }

    /// One record set aside, to list.
    pub fn keep(&self, dead: DeadLetter) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(dead);
    }

    /// The latest records set aside, newest first.
    pub fn recent(&self) -> Vec<DeadLetter> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().rev().cloned().collect()
    }

    /// Every partition's lag, by `"<function> <topic>-<partition>"`.
    pub fn lags(&self) -> BTreeMap<String, i64> {
        self.lags_locked().clone()
    }

    /// Every record dead-lettered since the cloud started.
    pub fn dead_letters(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// The total lag, and the partition furthest behind (when any is).
    pub fn lag(&self) -> (i64, Option<(String, i64)>) {
        let lags = self.lags_locked();
        let total = lags.values().sum();
        let worst = lags
            .iter()
            .filter(|(_, lag)| **lag > 0)
            .max_by_key(|(_, lag)| **lag)
            .map(|(key, lag)| (key.clone(), *lag));
        (total, worst)
    }

    fn lags_locked(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, i64>> {
        self.lag
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
