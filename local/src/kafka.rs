//! The embedded Kafka-compatible broker: tansu, run as a child process on a free loopback port,
//! storing in SQLite under a data folder (or in memory), and what the local cloud does with it:
//! create topics, read partitions, and shape records as an MSK event.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::RecordAndOffset;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// How long the broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot start tansu ({binary}): {source}; run scripts/tools to build it")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("tansu did not accept connections on {0} within 30 s")]
    NotReady(String),
    #[error("kafka: {0}")]
    Client(#[from] rskafka::client::error::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the broker keeps its data.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Gone when the broker stops.
    Memory,
    /// A SQLite file in this folder: survives restarts.
    Folder(PathBuf),
}

/// A running broker; killed when dropped (and, on Linux, when this process dies).
///
/// A supervised broker is started again when its process dies on its own, as a managed
/// cluster replaces a failed broker: producers and pollers see an outage, not an end.
pub struct EmbeddedKafka {
    child: Arc<Mutex<Option<Child>>>,
    port: u16,
    storage: Storage,
    supervisor: Option<tokio::task::JoinHandle<()>>,
}

/// The tansu binary: `TANSU_BIN`, else the one scripts/tools builds, else `tansu` on PATH.
pub fn tansu_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let built = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cache/serverless-todo/tools/bin/tansu"));
    match built {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tansu"),
    }
}

fn free_port() -> Result<u16, std::io::Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// How often a supervisor looks at its broker.
const SUPERVISE_EVERY: Duration = Duration::from_millis(200);

impl EmbeddedKafka {
    /// Starts a broker on a free port.
    pub async fn start(storage: Storage) -> Result<Self, KafkaError> {
        let broker = Self {
            child: Arc::new(Mutex::new(None)),
            port: free_port()?,
            storage,
            supervisor: None,
        };
        broker.run().await?;
        Ok(broker)
    }

    /// Restarts the broker whenever its process exits without [`stop`](Self::stop) being asked.
    pub fn supervise(&mut self) {
        let (child, port, storage) = (Arc::clone(&self.child), self.port, self.storage.clone());
        self.supervisor = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(SUPERVISE_EVERY).await;
                let exited = match child.lock().await.as_mut().map(Child::try_wait) {
                    Some(Ok(Some(status))) => Some(status),
                    _ => None,
                };
                if let Some(status) = exited {
                    eprintln!("todo-local: the broker exited ({status}); restarting it");
                    if let Err(e) = spawn(&child, port, &storage).await {
                        eprintln!("todo-local: the broker did not restart: {e}");
                    }
                }
            }
        }));
    }

    /// The broker's process id, while it runs.
    pub async fn pid(&self) -> Option<u32> {
        self.child.lock().await.as_ref().and_then(Child::id)
    }

    async fn run(&self) -> Result<(), KafkaError> {
        spawn(&self.child, self.port, &self.storage).await
    }

    /// `host:port`, as `KAFKA_BOOTSTRAP_SERVERS` names it.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (as a crash would) and keeps it down, supervised or not.
    pub async fn stop(&mut self) -> Result<(), KafkaError> {
        if let Some(mut child) = self.child.lock().await.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again on the same port with the same storage.
    pub async fn restart(&mut self) -> Result<(), KafkaError> {
        self.stop().await?;
        self.run().await
    }

    /// A client of this broker.
    pub async fn client(&self) -> Result<Client, KafkaError> {
        Ok(ClientBuilder::new(vec![self.bootstrap()]).build().await?)
    }

    /// Creates each topic with its partition count (replication 1); existing ones are kept.
    pub async fn create_topics(&self, topics: &[(&str, i32)]) -> Result<(), KafkaError> {
        let client = self.client().await?;
        let existing: Vec<String> = client
            .list_topics()
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        let controller = client.controller_client()?;
        for (name, partitions) in topics {
            if !existing.iter().any(|e| e == name) {
                controller
                    .create_topic(*name, *partitions, 1, 5_000)
                    .await?;
            }
        }
        Ok(())
    }

    /// Every record of a partition, oldest first.
    pub async fn read_partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<RecordAndOffset>, KafkaError> {
        let client = Arc::new(self.client().await?);
        let pc = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await?;
        let end = pc.get_offset(OffsetAt::Latest).await?;
        let mut offset = pc.get_offset(OffsetAt::Earliest).await?;
        let mut out = Vec::new();
        while offset < end {
            let (records, _high_watermark) = pc.fetch_records(offset, 1..1_000_000, 1_000).await?;
            if records.is_empty() {
                break;
            }
            offset = records.last().map(|r| r.offset + 1).unwrap_or(end);
            out.extend(records);
        }
        Ok(out)
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        if let Some(supervisor) = &self.supervisor {
            supervisor.abort();
        }
        if let Ok(mut child) = self.child.try_lock()
            && let Some(child) = child.as_mut()
        {
            let _ = child.start_kill();
        }
    }
}

/// Starts tansu on `port` over `storage` into `slot`, and waits until it accepts connections.
async fn spawn(
    slot: &Mutex<Option<Child>>,
    port: u16,
    storage: &Storage,
) -> Result<(), KafkaError> {
    let url = format!("tcp://127.0.0.1:{port}");
    // tansu resolves a SQLite URL against its working directory.
    let (engine, dir) = match storage {
        Storage::Memory => ("memory://tansu/", std::env::temp_dir()),
        Storage::Folder(dir) => {
            std::fs::create_dir_all(dir)?;
            ("sqlite://tansu.db", dir.clone())
        }
    };
    let binary = tansu_binary();
    let mut command = Command::new(&binary);
    command
        .current_dir(dir)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", engine])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    crate::process::die_with_parent(&mut command);
    let child = command
        .spawn()
        .map_err(|source| KafkaError::Spawn { binary, source })?;
    *slot.lock().await = Some(child);
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            return Err(KafkaError::NotReady(format!("127.0.0.1:{port}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The MSK event Lambda would deliver for these records of one topic-partition.
pub fn msk_event(topic: &str, partition: i32, records: &[RecordAndOffset]) -> KafkaEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let headers: Vec<Value> = r
                .record
                .headers
                .iter()
                .map(|(k, v)| json!({ k: v.iter().map(|b| *b as i8).collect::<Vec<i8>>() }))
                .collect();
            json!({
                "topic": topic, "partition": partition, "offset": r.offset,
                "timestamp": r.record.timestamp.timestamp_millis(), "timestampType": "CREATE_TIME",
                "key": r.record.key.as_ref().map(|k| B64.encode(k)),
                "value": r.record.value.as_ref().map(|v| B64.encode(v)),
                "headers": headers,
            })
        })
        .collect();
    let event = json!({
        "eventSource": "aws:kafka",
        "bootstrapServers": "127.0.0.1",
        "records": { format!("{topic}-{partition}"): records },
    });
    serde_json::from_value(event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rskafka::client::partition::Compression;
    use rskafka::record::Record;

    #[tokio::test]
    async fn records_survive_a_broker_restart_with_folder_storage() {
        let dir = std::env::temp_dir().join(format!("todo-local-kafka-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut broker = EmbeddedKafka::start(Storage::Folder(dir.clone()))
            .await
            .unwrap();
        broker.create_topics(&[("t", 2)]).await.unwrap();
        let client = broker.client().await.unwrap();
        let pc = client
            .partition_client("t", 1, UnknownTopicHandling::Retry)
            .await
            .unwrap();
        let record = Record {
            key: Some(b"k".to_vec()),
            value: Some(b"v".to_vec()),
            headers: [("h".to_string(), vec![1u8, 200])].into(),
            timestamp: chrono::Utc::now(),
        };
        pc.produce(vec![record], Compression::NoCompression)
            .await
            .unwrap();
        broker.restart().await.unwrap();
        let records = broker.read_partition("t", 1).await.unwrap();
        assert_eq!(records.len(), 1);
        let event = msk_event("t", 1, &records);
        let r = &event.records["t-1"][0];
        assert_eq!(r.offset, records[0].offset);
        assert_eq!(r.value.as_deref(), Some("dg=="));
        assert_eq!(
            r.headers[0]["h"],
            vec![1i8, -56],
            "header bytes arrive signed, as Java sends them"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
