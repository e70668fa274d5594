//! The Kafka producer: rskafka, one client per process, built on first use and rebuilt after a
//! failure, with partition clients cached per topic-partition.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rskafka::client::Client;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::partition_count;
use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::partitioner::partition_for;
use crate::relay::{EventSink, Outgoing};

/// How long rskafka's own retries of one request may go on; the invocation's deadline (see
/// `relay::PUBLISH_BUDGET`) bounds the whole publish as well.
const PRODUCE_DEADLINE: Duration = Duration::from_secs(5);

/// Produces to Kafka with acks from all in-sync replicas (rskafka always asks for `acks=-1`).
pub struct KafkaSink {
    config: KafkaConfig,
    client: Mutex<Option<Arc<Client>>>,
    partitions: Mutex<HashMap<(String, i32), Arc<PartitionClient>>>,
    counts: Mutex<HashMap<String, i32>>,
}

impl KafkaSink {
    /// A sink that connects on first use.
    pub fn new(config: KafkaConfig) -> Self {
        Self {
            config,
            client: Mutex::new(None),
            partitions: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self) -> Result<Arc<Client>, KafkaError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(Arc::clone(c));
        }
        let client = self
            .config
            .connect("todo-publisher", PRODUCE_DEADLINE)
            .await?;
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    async fn partition_count(&self, topic: &str) -> Result<i32, KafkaError> {
        if let Some(n) = self.counts.lock().await.get(topic) {
            return Ok(*n);
        }
        let n = partition_count(&*self.client().await?, topic).await?;
        self.counts.lock().await.insert(topic.to_string(), n);
        Ok(n)
    }

    async fn partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionClient>, KafkaError> {
        let key = (topic.to_string(), partition);
        if let Some(p) = self.partitions.lock().await.get(&key) {
            return Ok(Arc::clone(p));
        }
        let client = self
            .client()
            .await?
            .partition_client(topic, partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| KafkaError::of(format_args!("leader of {topic}/{partition}"), e))?;
        let client = Arc::new(client);
        self.partitions
            .lock()
            .await
            .insert(key, Arc::clone(&client));
        Ok(client)
    }

    /// Forgets connections after a failure, so the next call starts afresh.
    async fn reset(&self) {
        *self.client.lock().await = None;
        self.partitions.lock().await.clear();
        self.counts.lock().await.clear();
    }

    async fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: Vec<Record>,
    ) -> Result<(), KafkaError> {
        let client = self.partition(topic, partition).await?;
        match tokio::time::timeout(
            PRODUCE_DEADLINE,
            client.produce(records, Compression::NoCompression),
        )
        .await
        {
            Ok(Ok(_offsets)) => Ok(()),
            Ok(Err(e)) => Err(KafkaError::of(
                format_args!("produce to {topic}/{partition}"),
                e,
            )),
            Err(_) => Err(KafkaError::Transient(format!(
                "produce to {topic}/{partition}: timed out"
            ))),
        }
    }
}

fn record(out: &Outgoing) -> Record {
    Record {
        key: Some(out.key.as_bytes().to_vec()),
        value: Some(out.value.clone()),
        headers: out
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        timestamp: out.time,
    }
}

impl EventSink for KafkaSink {
    async fn publish(
        &self,
        records: &[Outgoing],
        deadline: Instant,
    ) -> Vec<Result<(), KafkaError>> {
        let unsent = || {
            Err(KafkaError::Transient(
                "not produced before the invocation's deadline".into(),
            ))
        };
        let mut results: Vec<Result<(), KafkaError>> = records.iter().map(|_| unsent()).collect();
        let mut any_failed = false;
        // One deadline for everything: connecting, metadata (once per topic) and every produce.
        let work = async {
            let mut counts: HashMap<&'static str, Result<i32, KafkaError>> = HashMap::new();
            // Group by topic-partition, keeping the batch order inside each group.
            let mut groups: Vec<((&'static str, i32), Vec<usize>)> = Vec::new();
            for (i, out) in records.iter().enumerate() {
                if !counts.contains_key(out.topic) {
                    let n = self.partition_count(out.topic).await;
                    counts.insert(out.topic, n);
                }
                let partition = match &counts[out.topic] {
                    Ok(n) => partition_for(out.key.as_bytes(), *n),
                    Err(e) => {
                        results[i] = Err(e.clone());
                        any_failed = true;
                        continue;
                    }
                };
                match groups
                    .iter_mut()
                    .find(|(k, _)| *k == (out.topic, partition))
                {
                    Some((_, members)) => members.push(i),
                    None => groups.push(((out.topic, partition), vec![i])),
                }
            }
            for ((topic, partition), members) in groups {
                let batch = members.iter().map(|&i| record(&records[i])).collect();
                let outcome = self.produce(topic, partition, batch).await;
                if outcome.is_err() {
                    any_failed = true;
                }
                for &i in &members {
                    results[i] = outcome.clone();
                }
            }
        };
        let finished = tokio::time::timeout_at(deadline, work).await.is_ok();
        if any_failed || !finished {
            self.reset().await;
        }
        results
    }
}
