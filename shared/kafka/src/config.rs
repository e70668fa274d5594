//! Where the brokers are and how to authenticate to them, from the environment: the one reader
//! of `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_SECRET_ARN` and
//! `KAFKA_TLS_CA_FILE`.

use todo_lambda::config::ConfigError;

/// How a client authenticates to the brokers.
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
}
