//! The Kafka producer: rskafka, one client per process, built on first use and rebuilt after a
//! failure, with partition clients cached per topic-partition.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rskafka::BackoffConfig;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use todo_lambda::config::ConfigError;
use tokio::sync::Mutex;

use crate::partitioner::partition_for;
use crate::relay::{EventSink, Outgoing};

/// How long one produce (with rskafka's own retries) may take before the records are reported
/// as failed and left to the event-source mapping's retry.
const PRODUCE_DEADLINE: Duration = Duration::from_secs(5);

/// Connection settings, from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `KAFKA_BOOTSTRAP_SERVERS`: comma-separated `host:port`.
    pub bootstrap: Vec<String>,
}

impl KafkaConfig {
    /// Reads `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_SECURITY_PROTOCOL` (only `PLAINTEXT` is
    /// implemented so far; anything else stops the function at start rather than at the first
    /// record).
    pub fn from_env() -> Result<Self, ConfigError> {
        let servers = todo_lambda::config::required("KAFKA_BOOTSTRAP_SERVERS")?;
        let protocol =
            std::env::var("KAFKA_SECURITY_PROTOCOL").unwrap_or_else(|_| "PLAINTEXT".into());
        if protocol != "PLAINTEXT" {
            return Err(ConfigError::Invalid {
                name: "KAFKA_SECURITY_PROTOCOL",
                reason: format!("{protocol} is not supported yet; use PLAINTEXT"),
            });
        }
        Ok(Self {
            bootstrap: servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

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

    async fn client(&self) -> Result<Arc<Client>, String> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(Arc::clone(c));
        }
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(PRODUCE_DEADLINE),
        };
        let client = ClientBuilder::new(self.config.bootstrap.clone())
            .client_id("todo-publisher")
            .backoff_config(backoff)
            .build()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    async fn partition_count(&self, topic: &str) -> Result<i32, String> {
        if let Some(n) = self.counts.lock().await.get(topic) {
            return Ok(*n);
        }
        let topics = self
            .client()
            .await?
            .list_topics()
            .await
            .map_err(|e| format!("metadata: {e}"))?;
        let n = topics
            .iter()
            .find(|t| t.name == topic)
            .map(|t| t.partitions.len() as i32)
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("topic {topic} does not exist"))?;
        self.counts.lock().await.insert(topic.to_string(), n);
        Ok(n)
    }

    async fn partition(&self, topic: &str, partition: i32) -> Result<Arc<PartitionClient>, String> {
        let key = (topic.to_string(), partition);
        if let Some(p) = self.partitions.lock().await.get(&key) {
            return Ok(Arc::clone(p));
        }
        let client = self
            .client()
            .await?
            .partition_client(topic, partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| format!("leader of {topic}/{partition}: {e}"))?;
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
    ) -> Result<(), String> {
        let client = self.partition(topic, partition).await?;
        match tokio::time::timeout(
            PRODUCE_DEADLINE,
            client.produce(records, Compression::NoCompression),
        )
        .await
        {
            Ok(Ok(_offsets)) => Ok(()),
            Ok(Err(e)) => Err(format!("produce to {topic}/{partition}: {e}")),
            Err(_) => Err(format!("produce to {topic}/{partition}: timed out")),
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
    async fn publish(&self, records: &[Outgoing]) -> Vec<Result<(), String>> {
        let mut results: Vec<Result<(), String>> = vec![Ok(()); records.len()];
        // Group by topic-partition, keeping the batch order inside each group.
        let mut groups: Vec<((&'static str, i32), Vec<usize>)> = Vec::new();
        for (i, out) in records.iter().enumerate() {
            let partition = match self.partition_count(out.topic).await {
                Ok(n) => partition_for(out.key.as_bytes(), n),
                Err(e) => {
                    results[i] = Err(e);
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
        let mut any_failed = false;
        for ((topic, partition), members) in groups {
            let batch = members.iter().map(|&i| record(&records[i])).collect();
            if let Err(e) = self.produce(topic, partition, batch).await {
                any_failed = true;
                for &i in &members {
                    results[i] = Err(e.clone());
                }
            }
        }
        if any_failed || results.iter().any(Result::is_err) {
            self.reset().await;
        }
        results
    }
}
