//! A client of the brokers: rskafka, with the TLS and SASL the configuration asks for.

use std::sync::Arc;
use std::time::Duration;

use rskafka::BackoffConfig;
use rskafka::client::{Client, ClientBuilder, Credentials, OauthBearerCredentials, SaslConfig};

use crate::config::{KafkaConfig, Security};
use crate::error::KafkaError;
use crate::tls::tls_config;

impl KafkaConfig {
    /// A client of these brokers with this security, retrying a connection for at most
    /// `deadline`: the one place a Kafka connection is built (the publisher, `todo-admin`).
    pub async fn connect(&self, client_id: &str, deadline: Duration) -> Result<Client, KafkaError> {
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
        builder
            .build()
            .await
            .map_err(|e| KafkaError::of("connect", e))
    }
}

/// How many partitions `topic` has, from the cluster's metadata; a topic that does not exist is
/// [`KafkaError::Refused`].
pub async fn partition_count(client: &Client, topic: &str) -> Result<i32, KafkaError> {
    client
        .list_topics()
        .await
        .map_err(|e| KafkaError::of("metadata", e))?
        .into_iter()
        .find(|t| t.name == topic)
        .map(|t| t.partitions.len() as i32)
        .filter(|n| *n > 0)
        .ok_or_else(|| KafkaError::Refused(format!("topic {topic} does not exist")))
}

/// An OAUTHBEARER callback that signs a fresh MSK IAM token per connection.
fn iam_credentials(region: &str) -> OauthBearerCredentials {
    let region = region.to_string();
    OauthBearerCredentials {
        callback: Arc::new(move || {
            let region = region.clone();
            Box::pin(async move { msk_iam_token(&region).await })
        }),
        authz_id: None,
        bearer_kvs: Vec::new(),
    }
}

/// A fresh MSK IAM token for `region`: a SigV4-signed URL with the function's credentials, the
/// bearer token of SASL/OAUTHBEARER on MSK's port 9098. Every connection signs its own, since a
/// token expires within minutes.
pub async fn msk_iam_token(region: &str) -> Result<String, BoxError> {
    aws_msk_iam_sasl_signer::generate_auth_token(aws_config::Region::new(region.to_string()))
        .await
        .map(|(token, _expires_ms)| token)
        // The signer's error type is private to it.
        .map_err(|e| Box::new(e) as BoxError)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
