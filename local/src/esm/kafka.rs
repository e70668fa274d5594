//! The MSK mapping: per partition, in offset order, batches of the configured size (waiting up
//! to the batching window), partial batch failures in the Kafka shape (commit up to the first
//! failed record and retry from it), MaximumRetryAttempts (capped at 10 when infinite with an
//! on-failure destination, as Lambda caps it: `properties::kafka_retries`),
//! MaximumRecordAgeInSeconds and BisectBatchOnFunctionError (a function error halves the next
//! batch, down to one record; each retry counts), then the failed records to the
//! on-failure topic with the failure's metadata in headers. Committed offsets are kept on disk,
//! per consumer group and partition, so a restart resumes where it stopped.
//!
//! Partitions are processed in parallel, each by its own worker holding at most one batch in
//! flight, as Lambda's Kafka pollers do (ordering holds within a partition, which is all Kafka
//! promises); a partition added to the topic later gets a worker within a second.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rskafka::client::Client;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::record::{Record, RecordAndOffset};
use serde_json::Value;

use crate::kafka::msk_event;
use crate::runtime::{FunctionHost, Invocation, Outcome};

/// How a function consumes a topic.
#[derive(Clone)]
pub struct KafkaMapping {
    pub host: Arc<FunctionHost>,
    pub topic: String,
    pub group: String,
    /// Its retries capped as Lambda caps a Kafka mapping's (`properties::kafka_retries`).
    pub batching: super::Batching,
    /// `kafka://<topic>` destination, if any.
    pub dead_letter: Option<String>,
    /// `StartingPosition: LATEST`: a group with no committed offset starts at the log's end
    /// when the mapping starts (AWS's reading), not at its beginning (`TRIM_HORIZON`).
    pub from_latest: bool,
    /// The consumer group's committed offsets: `<offsets_dir>/<topic>-<partition>`.
    pub offsets_dir: PathBuf,
    /// Where it reports its lag and dead letters (the cloud's console reads them).
    pub stats: Arc<super::stats::MappingStats>,
    attempts: HashMap<(i32, i64), u32>,
    /// The batch size after a bisection (each worker holds one partition).
    limit: Option<usize>,
    /// When each partition's committed offset was last checked against the log's end.
    checked: HashMap<i32, std::time::Instant>,
}

/// How often an idle partition's committed offset is checked against the log's end.
const OUT_OF_RANGE_CHECK: Duration = Duration::from_secs(2);

/// Told about every invocation: function, trigger, what happened.
type Observer = Arc<dyn Fn(&str, &str, &Invocation) + Send + Sync>;

impl KafkaMapping {
    /// The mapping an `MSK` event with these `Properties` declares for `host`'s function;
    /// `None` without a topic.
    pub fn from_properties(
        p: &Value,
        host: Arc<FunctionHost>,
        data_dir: &std::path::Path,
    ) -> Option<Self> {
        let group = p["ConsumerGroupId"]
            .as_str()
            .unwrap_or(host.name())
            .to_string();
        Some(Self {
            host,
            topic: p["Topics"][0].as_str()?.to_string(),
            batching: super::Batching {
                max_retries: super::properties::kafka_retries(p),
                ..super::Batching::of(p)
            },
            dead_letter: p["DestinationConfig"]["OnFailure"]["Destination"]
                .as_str()
                .and_then(|d| d.strip_prefix("kafka://"))
                .map(str::to_string),
            offsets_dir: data_dir.join(format!("esm/{group}.offsets")),
            from_latest: p["StartingPosition"].as_str() == Some("LATEST"),
            group,
            stats: Arc::default(),
            attempts: HashMap::new(),
            limit: None,
            checked: HashMap::new(),
        })
    }

    fn offset_file(&self, partition: i32) -> PathBuf {
        self.offsets_dir.join(format!("{}-{partition}", self.topic))
    }

    fn committed(&self, partition: i32) -> Option<i64> {
        std::fs::read_to_string(self.offset_file(partition))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    fn commit(&self, partition: i32, next: i64) {
        let _ = std::fs::create_dir_all(&self.offsets_dir);
        let _ = std::fs::write(self.offset_file(partition), next.to_string());
    }

    /// A committed offset past the log's end means the topic was deleted and made again (its
    /// group's offsets would have gone with it in Kafka): start again from the earliest record,
    /// as a mapping with `TRIM_HORIZON` and no committed offset does, and say so. Checked at
    /// most every `OUT_OF_RANGE_CHECK` per idle partition.
    async fn reset_if_out_of_range(&mut self, pc: &PartitionClient, partition: i32, next: i64) {
        let now = std::time::Instant::now();
        if self
            .checked
            .get(&partition)
            .is_some_and(|at| now.duration_since(*at) < OUT_OF_RANGE_CHECK)
        {
            return;
        }
        self.checked.insert(partition, now);
        let Ok(end) = pc.get_offset(OffsetAt::Latest).await else {
            return;
        };
        // tansu 0.6 can report a partition's end (its high watermark, and ListOffsets) as 0
        // while the partition holds records: seen after a record at offset 0 was fetched and
        // committed. The log reaches `next` if it holds the record before it, whatever the
        // broker says its end is; without this check every idle group went back to offset 0
        // every two seconds, each record delivered again.
        if next > end && !self.holds(pc, next - 1).await {
            let earliest = pc.get_offset(OffsetAt::Earliest).await.unwrap_or(0);
            eprintln!(
                "todo-local: {} group {}: committed offset {next} is past the end of {}-{partition} ({end}): the topic was made again; consuming from {earliest}",
                self.host.name(),
                self.group,
                self.topic
            );
            self.commit(partition, earliest);
        }
    }

    /// Whether the partition holds the record at `offset`.
    async fn holds(&self, pc: &PartitionClient, offset: i64) -> bool {
        pc.fetch_records(offset, 1..1_000_000, 1)
            .await
            .is_ok_and(|(records, _)| records.iter().any(|r| r.offset == offset))
    }

    /// Runs the mapping until the process ends: one worker per partition of the topic.
    /// Fixes where a `LATEST` mapping's group starts, as AWS does when the mapping is created:
    /// the end of each partition that has no committed offset yet. Called before the cloud
    /// reports itself started, so records produced after that are the group's.
    pub async fn pin_start(&self, client: &Client) {
        if !self.from_latest {
            return;
        }
        let Ok(topics) = client.list_topics().await else {
            return;
        };
        let partitions = topics
            .into_iter()
            .find(|t| t.name == self.topic)
            .map(|t| t.partitions)
            .unwrap_or_default();
        for partition in partitions {
            if self.committed(partition).is_none()
                && let Ok(pc) = client
                    .partition_client(self.topic.clone(), partition, UnknownTopicHandling::Retry)
                    .await
            {
                self.first_offset(&pc, partition).await;
            }
        }
    }

    /// Where a group with no committed offset on `partition` starts: the log's end for a
    /// `LATEST` mapping (committed at once, so it stays put), else its beginning.
    async fn first_offset(&self, pc: &PartitionClient, partition: i32) -> Option<i64> {
        if self.from_latest {
            let end = pc.get_offset(OffsetAt::Latest).await.ok()?;
            self.commit(partition, end);
            Some(end)
        } else {
            Some(pc.get_offset(OffsetAt::Earliest).await.unwrap_or(0))
        }
    }

    pub async fn run(self, client: Arc<Client>, observe: Observer) {
        // An idle partition is polled every 300 ms (this and the fetch's 50 ms wait): within
        // Lambda's own default batching window for Kafka (500 ms), and a third of the broker's
        // work that polling every 150 ms cost an idle cloud (24 pollers).
        const IDLE: Duration = Duration::from_millis(250);
        const DISCOVERY: Duration = Duration::from_secs(1);
        let mut running = BTreeSet::new();
        // The workers end with this task (a JoinSet aborts what it holds when dropped).
        let mut workers = tokio::task::JoinSet::new();
        loop {
            let partitions: Vec<i32> = match client.list_topics().await {
                Ok(topics) => topics
                    .into_iter()
                    .find(|t| t.name == self.topic)
                    .map(|t| t.partitions.into_iter().collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            for partition in partitions {
                if running.insert(partition) {
                    let mut worker = self.clone();
                    let client = Arc::clone(&client);
                    let observe = Arc::clone(&observe);
                    workers.spawn(async move {
                        // One partition client for the worker's life: making one looks up
                        // the partition's leader, a metadata request a poll would repeat.
                        let mut pc = None;
                        loop {
                            if pc.is_none() {
                                pc = client
                                    .partition_client(
                                        worker.topic.clone(),
                                        partition,
                                        UnknownTopicHandling::Retry,
                                    )
                                    .await
                                    .ok();
                            }
                            let settled = match &pc {
                                Some(p) => {
                                    worker
                                        .poll_partition(&client, p, partition, observe.as_ref())
                                        .await
                                }
                                None => None,
                            };
                            if settled.is_none() {
                                pc = None;
                            }
                            if settled.unwrap_or(0) == 0 {
                                tokio::time::sleep(IDLE).await;
                            }
                        }
                    });
                }
            }
            tokio::time::sleep(DISCOVERY).await;
        }
    }

    /// One poll of one partition: at most one batch; returns how many records were settled,
    /// or `None` when the fetch failed (the caller makes a new partition client: the broker may
    /// have restarted or the topic been made again).
    pub async fn poll_partition(
        &mut self,
        client: &Client,
        pc: &PartitionClient,
        partition: i32,
        observe: &(dyn Fn(&str, &str, &Invocation) + Send + Sync),
    ) -> Option<usize> {
        let key = format!("{}-{partition}", self.topic);
        let next = match self.committed(partition) {
            Some(n) => n,
            None => self.first_offset(pc, partition).await?,
        };
        // A fetch waits at most 50 ms for records, so the worker notices a stop promptly (the
        // batching window still bounds how long a record waits).
        let wait_ms = self.batching.window.as_millis().min(50) as i32;
        let fetched = pc.fetch_records(next, 1..5_000_000, wait_ms.max(1)).await;
        let batch: Vec<RecordAndOffset> = match fetched {
            Ok((records, high_watermark)) => {
                self.stats
                    .record_lag(format!("{} {key}", self.host.name()), high_watermark - next);
                records
                    .into_iter()
                    .filter(|r| r.offset >= next)
                    .take(self.limit.unwrap_or(self.batching.batch_size))
                    .collect()
            }
            Err(_) => {
                self.reset_if_out_of_range(pc, partition, next).await;
                return None;
            }
        };
        if batch.is_empty() {
            self.reset_if_out_of_range(pc, partition, next).await;
            return Some(0);
        }
        let event = msk_event(&self.topic, partition, &batch);
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let invocation = self.host.invoke(payload).await;
        observe(self.host.name(), &format!("msk {key}"), &invocation);
        let last = batch[batch.len() - 1].offset;
        let failed: Vec<i64> = match &invocation.outcome {
            Outcome::Ok(body) => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["batchItemFailures"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|f| f["itemIdentifier"]["partition"] == Value::String(key.clone()))
                .filter_map(|f| f["itemIdentifier"]["offset"].as_i64())
                .collect(),
            _ => batch.iter().map(|r| r.offset).collect(),
        };
        let Some(&first) = failed.iter().min() else {
            self.limit = None;
            self.commit(partition, last + 1);
            return Some(batch.len());
        };
        self.commit(partition, first);
        let attempts = self.attempts.entry((partition, first)).or_insert(0);
        *attempts += 1;
        let expired = self.batching.max_record_age.is_some_and(|age| {
            batch.iter().find(|r| r.offset == first).is_some_and(|r| {
                (chrono::Utc::now() - r.record.timestamp)
                    .to_std()
                    .unwrap_or_default()
                    > age
            })
        });
        if *attempts <= self.batching.max_retries && !expired {
            // "If the function returns an error, split the batch in two and retry" (the retry
            // counts, as on the stream mapping).
            if let Some(half) = self.batching.split(&invocation.outcome, batch.len()) {
                self.limit = Some(half);
            }
            return Some(batch.iter().filter(|r| r.offset < first).count());
        }
        self.attempts.remove(&(partition, first));
        self.limit = None;
        let reason = match &invocation.outcome {
            _ if expired => "older than MaximumRecordAgeInSeconds".to_string(),
            Outcome::Ok(_) => "reported as a batch item failure".to_string(),
            other => format!("{other:?}"),
        };
        if let Some(topic) = &self.dead_letter {
            let dead: Vec<Record> = batch
                .iter()
                .filter(|r| failed.contains(&r.offset))
                .map(|r| {
                    let mut record = r.record.clone();
                    record
                        .headers
                        .insert("dlt.error".into(), reason.clone().into_bytes());
                    record.headers.insert(
                        "dlt.origin".into(),
                        format!("{key}@{}", r.offset).into_bytes(),
                    );
                    record
                        .headers
                        .insert("dlt.function".into(), self.host.name().as_bytes().to_vec());
                    record
                        .headers
                        .insert("dlt.group".into(), self.group.as_bytes().to_vec());
                    record
                })
                .collect();
            if let Ok(dlt) = client
                .partition_client(topic.clone(), 0, UnknownTopicHandling::Retry)
                .await
            {
                let origins: Vec<i64> = batch
                    .iter()
                    .filter(|r| failed.contains(&r.offset))
                    .map(|r| r.offset)
                    .collect();
                let Ok(offsets) = dlt.produce(dead, Compression::NoCompression).await else {
                    return Some(0); // not committed: retried on the next poll
                };
                self.stats.dead_lettered(offsets.len());
                for (origin, offset) in origins.iter().zip(&offsets) {
                    self.stats.keep(super::stats::DeadLetter {
                        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        function: self.host.name().to_string(),
                        origin: format!("{key}@{origin}"),
                        reason: reason.clone(),
                        topic: topic.clone(),
                        partition: 0,
                        offset: *offset,
                    });
                }
            }
        }
        self.commit(partition, last + 1);
        Some(batch.len())
    }
}
