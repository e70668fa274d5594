//! The MSK mapping: per partition, in offset order, batches of the configured size (waiting up
//! to the batching window), partial batch failures in the Kafka shape (commit up to the first
//! failed record and retry from it), MaximumRetryAttempts, then the failed records to the
//! on-failure topic with the failure's metadata in headers. Committed offsets are kept on disk,
//! per consumer group, so a restart resumes where it stopped.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rskafka::client::Client;
use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
use rskafka::record::{Record, RecordAndOffset};
use serde_json::Value;

use crate::kafka::msk_event;
use crate::runtime::{FunctionHost, Invocation, Outcome};
use crate::template::FunctionDefinition;

/// How a function consumes a topic.
pub struct KafkaMapping {
    pub host: Arc<FunctionHost>,
    pub topic: String,
    pub group: String,
    pub batch_size: usize,
    pub window: Duration,
    pub max_retries: u32,
    /// `kafka://<topic>` destination, if any.
    pub dead_letter: Option<String>,
    pub offsets_file: PathBuf,
    attempts: HashMap<(i32, i64), u32>,
}

impl KafkaMapping {
    /// The mapping an `MSK` event of `f` declares, if `event` is one.
    pub fn from_event(
        f: &FunctionDefinition,
        event: &Value,
        host: Arc<FunctionHost>,
        data_dir: &std::path::Path,
    ) -> Option<Self> {
        if event["Type"] != "MSK" {
            return None;
        }
        let p = &event["Properties"];
        let batching = super::Batching::of(p);
        let group = p["ConsumerGroupId"]
            .as_str()
            .unwrap_or(&f.logical_id)
            .to_string();
        Some(Self {
            host,
            topic: p["Topics"][0].as_str()?.to_string(),
            batch_size: batching.batch_size,
            window: batching.window,
            max_retries: batching.max_retries,
            dead_letter: p["DestinationConfig"]["OnFailure"]["Destination"]
                .as_str()
                .and_then(|d| d.strip_prefix("kafka://"))
                .map(str::to_string),
            offsets_file: data_dir.join(format!("esm/{group}.offsets.json")),
            group,
            attempts: HashMap::new(),
        })
    }

    fn offsets(&self) -> BTreeMap<String, i64> {
        std::fs::read_to_string(&self.offsets_file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn commit(&self, partition: i32, next: i64) {
        let mut offsets = self.offsets();
        offsets.insert(format!("{}-{partition}", self.topic), next);
        if let Some(dir) = self.offsets_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(text) = serde_json::to_string_pretty(&offsets) {
            let _ = std::fs::write(&self.offsets_file, text);
        }
    }

    /// One poll of every partition; returns how many records were settled.
    pub async fn poll(
        &mut self,
        client: &Client,
        observe: &(dyn Fn(&str, &str, &Invocation) + Send + Sync),
    ) -> usize {
        let partitions: Vec<i32> = match client.list_topics().await {
            Ok(topics) => topics
                .into_iter()
                .find(|t| t.name == self.topic)
                .map(|t| t.partitions.into_iter().collect())
                .unwrap_or_default(),
            Err(_) => return 0,
        };
        let mut settled = 0;
        for partition in partitions {
            settled += self.poll_partition(client, partition, observe).await;
        }
        settled
    }

    async fn poll_partition(
        &mut self,
        client: &Client,
        partition: i32,
        observe: &(dyn Fn(&str, &str, &Invocation) + Send + Sync),
    ) -> usize {
        let Ok(pc) = client
            .partition_client(self.topic.clone(), partition, UnknownTopicHandling::Retry)
            .await
        else {
            return 0;
        };
        let key = format!("{}-{partition}", self.topic);
        let next = match self.offsets().get(&key) {
            Some(n) => *n,
            None => pc.get_offset(OffsetAt::Earliest).await.unwrap_or(0),
        };
        // Partitions are polled in turn: a long fetch wait on an idle one would delay the others,
        // so each waits at most 50 ms (the batching window still bounds how long a record waits).
        let wait_ms = self.window.as_millis().min(50) as i32;
        let Ok((records, _)) = pc.fetch_records(next, 1..5_000_000, wait_ms.max(1)).await else {
            return 0;
        };
        let batch: Vec<RecordAndOffset> = records
            .into_iter()
            .filter(|r| r.offset >= next)
            .take(self.batch_size)
            .collect();
        if batch.is_empty() {
            return 0;
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
            self.commit(partition, last + 1);
            return batch.len();
        };
        self.commit(partition, first);
        let attempts = self.attempts.entry((partition, first)).or_insert(0);
        *attempts += 1;
        if *attempts <= self.max_retries {
            return batch.iter().filter(|r| r.offset < first).count();
        }
        self.attempts.remove(&(partition, first));
        let reason = match &invocation.outcome {
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
                && dlt.produce(dead, Compression::NoCompression).await.is_err()
            {
                return 0; // not committed: retried on the next poll
            }
        }
        self.commit(partition, last + 1);
        batch.len()
    }
}
