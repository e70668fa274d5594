//! The Kafka producer: rskafka, one client per process, built on first use and rebuilt after a
//! failure, with partition clients cached per topic-partition.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rskafka::BackoffConfig;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, OauthBearerCredentials, SaslConfig};
use rskafka::record::Record;
use todo_lambda::config::ConfigError;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::partitioner::partition_for;
use crate::relay::{EventSink, Outgoing};

/// How long rskafka's own retries of one request may go on; the invocation's deadline (see
/// `relay::deadline`) bounds the whole publish as well.
const PRODUCE_DEADLINE: Duration = Duration::from_secs(5);

/// How the publisher authenticates to the brokers.
#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// No TLS, no authentication: the local cloud and tests.
    Plaintext,
    /// TLS with SASL/SCRAM-SHA-512 (MSK's port 9096).
    Scram { username: String, password: String },
    /// TLS with MSK IAM (SASL/OAUTHBEARER with SigV4-signed tokens; MSK's port 9098).
    Iam { region: String },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Plaintext => f.write_str("Plaintext"),
            Security::Scram { username, .. } => write!(f, "Scram({username}, <password>)"),
            Security::Iam { region } => write!(f, "Iam({region})"),
        }
    }
}

/// MSK's SCRAM secret: `{"username": "...", "password": "..."}`.
#[derive(serde::Deserialize)]
struct ScramSecret {
    username: String,
    password: String,
}

/// Connection settings, from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `KAFKA_BOOTSTRAP_SERVERS`: comma-separated `host:port`.
    pub bootstrap: Vec<String>,
    pub security: Security,
    /// `KAFKA_TLS_CA_FILE`: a PEM file of certificate authorities trusted besides the Mozilla
    /// roots (MSK needs none; a self-managed cluster with a private CA, and the tests' TLS
    /// endpoint, do).
    pub ca_file: Option<std::path::PathBuf>,
}

impl KafkaConfig {
    /// Plaintext to these brokers.
    pub fn plaintext(bootstrap: Vec<String>) -> Self {
        Self {
            bootstrap,
            security: Security::Plaintext,
            ca_file: None,
        }
    }

    /// Reads `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_SECURITY_PROTOCOL`: `PLAINTEXT`,
    /// `SASL_SSL_SCRAM` (the credentials from the Secrets Manager secret `KAFKA_SASL_SECRET_ARN`
    /// names, MSK's `{"username": ..., "password": ...}`, the same secret the MSK triggers use)
    /// or `SASL_SSL_IAM` (with the function's `AWS_REGION`). A bad setting stops the function at
    /// start rather than at the first record.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(
            |name| std::env::var(name).ok(),
            todo_lambda::secrets::secret_string,
        )
        .await
    }

    async fn from_lookup(
        get: impl Fn(&'static str) -> Option<String>,
        secret: impl AsyncFnOnce(&'static str) -> Result<String, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let bootstrap: Vec<String> = required("KAFKA_BOOTSTRAP_SERVERS")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let protocol = get("KAFKA_SECURITY_PROTOCOL").unwrap_or_else(|| "PLAINTEXT".into());
        let security = match protocol.as_str() {
            "PLAINTEXT" => Security::Plaintext,
            "SASL_SSL_SCRAM" => {
                let text = secret("KAFKA_SASL_SECRET_ARN").await?;
                let credentials: ScramSecret =
                    serde_json::from_str(&text).map_err(|e| ConfigError::Invalid {
                        name: "KAFKA_SASL_SECRET_ARN",
                        reason: format!("the secret is not {{\"username\", \"password\"}}: {e}"),
                    })?;
                Security::Scram {
                    username: credentials.username,
                    password: credentials.password,
                }
            }
            "SASL_SSL_IAM" => Security::Iam {
                region: required("AWS_REGION")?,
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "KAFKA_SECURITY_PROTOCOL",
                    reason: format!("{other:?}: use PLAINTEXT, SASL_SSL_SCRAM or SASL_SSL_IAM"),
                });
            }
        };
        Ok(Self {
            bootstrap,
            security,
            ca_file: get("KAFKA_TLS_CA_FILE")
                .filter(|v| !v.trim().is_empty())
                .map(Into::into),
        })
    }
}

impl KafkaConfig {
    /// A client of these brokers with this security, retrying a connection for at most
    /// `deadline`: the one place a Kafka connection is built (the publisher, `todo-admin`).
    pub async fn connect(&self, client_id: &str, deadline: Duration) -> Result<Client, String> {
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(deadline),
        };
        let mut builder = ClientBuilder::new(self.bootstrap.clone())
            .client_id(client_id)
            .backoff_config(backoff);
        builder = match &self.security {
            Security::Plaintext => builder,
            Security::Scram { username, password } => builder
                .tls_config(tls_config(self.ca_file.as_deref())?)
                .sasl_config(SaslConfig::ScramSha512(Credentials::new(
                    username.clone(),
                    password.clone(),
                ))),
            Security::Iam { region } => builder
                .tls_config(tls_config(self.ca_file.as_deref())?)
                .sasl_config(SaslConfig::Oauthbearer(iam_credentials(region))),
        };
        builder.build().await.map_err(|e| format!("connect: {e}"))
    }
}

/// TLS with the Mozilla root store (Amazon Trust Services signs MSK's certificates), plus the
/// authorities in `ca_file` when one is given.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(file) = ca_file {
        let certs = CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("tls: {}: {e}", file.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("tls: {}: {e}", file.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("tls: {}: {e}", file.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("tls: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An OAUTHBEARER callback that signs a fresh MSK IAM token per connection.
fn iam_credentials(region: &str) -> OauthBearerCredentials {
    let region = aws_config::Region::new(region.to_string());
    OauthBearerCredentials {
        callback: Arc::new(move || {
            let region = region.clone();
            Box::pin(async move {
                aws_msk_iam_sasl_signer::generate_auth_token(region)
                    .await
                    .map(|(token, _expires_ms)| token)
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })
        }),
        authz_id: None,
        bearer_kvs: Vec::new(),
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
        let client = self
            .config
            .connect("todo-publisher", PRODUCE_DEADLINE)
            .await?;
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
    async fn publish(&self, records: &[Outgoing], deadline: Instant) -> Vec<Result<(), String>> {
        let unsent = || Err("not produced before the invocation's deadline".to_string());
        let mut results: Vec<Result<(), String>> = records.iter().map(|_| unsent()).collect();
        let mut any_failed = false;
        // One deadline for everything: connecting, metadata (once per topic) and every produce.
        let work = async {
            let mut counts: HashMap<&'static str, Result<i32, String>> = HashMap::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The config from these variables, with `secret` as the only secret there is.
    async fn config(
        vars: &[(&'static str, &str)],
        secret: &str,
    ) -> Result<KafkaConfig, ConfigError> {
        let vars: std::collections::HashMap<_, _> =
            vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let secret = secret.to_string();
        KafkaConfig::from_lookup(
            |name| vars.get(name).cloned(),
            async move |_name: &'static str| Ok(secret),
        )
        .await
    }

    #[tokio::test]
    async fn security_modes_come_from_the_environment() {
        let plain = config(&[("KAFKA_BOOTSTRAP_SERVERS", "a:9092, b:9092")], "")
            .await
            .unwrap();
        assert_eq!(
            plain,
            KafkaConfig::plaintext(vec!["a:9092".into(), "b:9092".into()])
        );
        let scram = config(
            &[
                ("KAFKA_BOOTSTRAP_SERVERS", "a:9096"),
                ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL_SCRAM"),
                (
                    "KAFKA_SASL_SECRET_ARN",
                    "arn:aws:secretsmanager:eu-west-1:1:secret:AmazonMSK_todo",
                ),
            ],
            r#"{"username": "todo", "password": "s3cret"}"#,
        )
        .await
        .unwrap();
        assert_eq!(
            scram.security,
            Security::Scram {
                username: "todo".into(),
                password: "s3cret".into()
            }
        );
        assert!(
            !format!("{scram:?}").contains("s3cret"),
            "the password never reaches a log"
        );
        let iam = config(
            &[
                ("KAFKA_BOOTSTRAP_SERVERS", "a:9098"),
                ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL_IAM"),
                ("AWS_REGION", "eu-west-1"),
            ],
            "",
        )
        .await
        .unwrap();
        assert_eq!(
            iam.security,
            Security::Iam {
                region: "eu-west-1".into()
            }
        );
    }

    #[tokio::test]
    async fn bad_settings_are_refused_at_start() {
        assert!(matches!(
            config(&[], "").await,
            Err(ConfigError::Missing("KAFKA_BOOTSTRAP_SERVERS"))
        ));
        let scram = [
            ("KAFKA_BOOTSTRAP_SERVERS", "a:1"),
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL_SCRAM"),
        ];
        assert!(matches!(
            config(&scram, "not json").await,
            Err(ConfigError::Invalid {
                name: "KAFKA_SASL_SECRET_ARN",
                ..
            })
        ));
        assert!(matches!(
            config(&scram, r#"{"username": "todo"}"#).await,
            Err(ConfigError::Invalid {
                name: "KAFKA_SASL_SECRET_ARN",
                ..
            })
        ));
        assert!(matches!(
            config(
                &[
                    ("KAFKA_BOOTSTRAP_SERVERS", "a:1"),
                    ("KAFKA_SECURITY_PROTOCOL", "SSL")
                ],
                ""
            )
            .await,
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn tls_config_builds_with_the_ring_provider() {
        assert!(tls_config(None).is_ok());
        let missing = tls_config(Some(std::path::Path::new("/nonexistent/ca.pem")));
        assert!(missing.is_err_and(|e| e.contains("/nonexistent/ca.pem")));
    }
}
