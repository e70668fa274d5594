//! One admin connection to one broker: Kafka's wire format (kafka-protocol's messages), with the
//! publisher's TLS and SASL settings.
//!
//! rskafka, the project's Kafka client, creates topics but cannot set a topic's configuration
//! or add partitions, and its connection is private; this speaks the few admin requests the
//! topics resource needs over a connection built from the same `KafkaConfig` (TLS roots, SCRAM
//! secret, MSK IAM region) the publisher uses. Versions are negotiated with ApiVersions, so it
//! works against any broker that supports a version kafka-protocol does.

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use todo_kafka::config::{KafkaConfig, Security};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENT_ID: &str = "todo-topics";
/// The largest response accepted: admin responses are small; a bigger length is a broken stream.
const MAX_FRAME: usize = 16 << 20;

/// Why an admin exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The network, a broker that is not ready, a retriable Kafka error: worth another try.
    #[error("{0}")]
    Transient(String),
    /// Refused for good (authentication, authorization, an invalid request): retrying cannot help.
    #[error("{0}")]
    Refused(String),
}

impl AdminError {
    pub fn is_transient(&self) -> bool {
        matches!(self, AdminError::Transient(_))
    }

    /// The error for a Kafka error code (`None` for 0), retriable or not as Kafka classes it.
    pub fn from_code(code: i16, what: &str, message: Option<&StrBytes>) -> Option<Self> {
        let error = kafka_protocol::error::ResponseError::try_from_code(code)?;
        let text = match message {
            Some(m) if !m.is_empty() => format!("{what}: {error} ({})", m.as_str()),
            _ => format!("{what}: {error}"),
        };
        Some(if error.is_retriable() {
            AdminError::Transient(text)
        } else {
            AdminError::Refused(text)
        })
    }
}

fn transient(address: &str) -> impl Fn(std::io::Error) -> AdminError + '_ {
    move |e| AdminError::Transient(format!("{address}: {e}"))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An authenticated connection to one broker.
pub struct Connection {
    io: Box<dyn Io>,
    address: String,
    correlation_id: i32,
    /// The broker's version range per API key.
    versions: HashMap<i16, (i16, i16)>,
}

impl Connection {
    /// Connects to `address` (`host:port`), with TLS and SASL when `config` asks for them, and
    /// learns the broker's API versions.
    pub async fn open(config: &KafkaConfig, address: &str) -> Result<Self, AdminError> {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(transient(address))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match config.security {
            Security::Plaintext => Box::new(tcp),
            Security::Scram { .. } | Security::Iam { .. } => {
                let tls = todo_kafka::tls::tls_config(config.ca_file.as_deref())
                    .map_err(|e| AdminError::Refused(e.to_string()))?;
                let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| AdminError::Refused(format!("{address}: {e}")))?;
                let stream = tokio_rustls::TlsConnector::from(tls)
                    .connect(name, tcp)
                    .await
                    .map_err(transient(address))?;
                Box::new(stream)
            }
        };
        let mut connection = Self {
            io,
            address: address.to_string(),
            correlation_id: 0,
            versions: HashMap::new(),
        };
        // Version 0: every broker answers it, before authentication too.
        let versions: ApiVersionsResponse = connection
            .exchange(&ApiVersionsRequest::default(), 0)
            .await?;
        if let Some(e) = AdminError::from_code(versions.error_code, "ApiVersions", None) {
            return Err(e);
        }
        connection.versions = versions
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        match &config.security {
            Security::Plaintext => {}
            Security::Scram { username, password } => {
                connection.scram_sha_512(username, password).await?
            }
            Security::Iam { region } => connection.msk_iam(region).await?,
        }
        Ok(connection)
    }

    /// The broker's address, as connected to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends `body` at the highest version both sides support and returns the response.
    pub async fn send<R: Request>(&mut self, body: &R) -> Result<R::Response, AdminError> {
        let version = self.version::<R>()?;
        self.exchange(body, version).await
    }

    fn version<R: Request>(&self) -> Result<i16, AdminError> {
        let unsupported = || {
            AdminError::Refused(format!(
                "{}: the broker supports no version of API {} that this client speaks ({})",
                self.address,
                R::KEY,
                R::VERSIONS
            ))
        };
        let (min, max) = self
            .versions
            .get(&R::KEY)
            .copied()
            .ok_or_else(unsupported)?;
        let version = max.min(R::VERSIONS.max);
        if version < min.max(R::VERSIONS.min) {
            return Err(unsupported());
        }
        Ok(version)
    }

    async fn exchange<R: Request>(
        &mut self,
        body: &R,
        version: i16,
    ) -> Result<R::Response, AdminError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let encoding =
            |e: String| AdminError::Refused(format!("encoding API {} v{version}: {e}", R::KEY));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, R::header_version(version))
            .map_err(|e| encoding(e.to_string()))?;
        body.encode(&mut frame, version)
            .map_err(|e| encoding(e.to_string()))?;
        let length = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&length.to_be_bytes());
        let address = self.address.clone();
        self.io
            .write_all(&frame)
            .await
            .map_err(transient(&address))?;
        self.io.flush().await.map_err(transient(&address))?;

        let length = self.io.read_i32().await.map_err(transient(&address))?;
        let length = usize::try_from(length)
            .ok()
            .filter(|n| *n <= MAX_FRAME)
            .ok_or_else(|| {
                AdminError::Transient(format!("{address}: a response of {length} bytes"))
            })?;
        let mut bytes = vec![0; length];
        self.io
            .read_exact(&mut bytes)
            .await
            .map_err(transient(&address))?;
        let mut bytes = Bytes::from(bytes);
        let decoding = |e: String| {
            AdminError::Transient(format!(
                "{address}: decoding API {} v{version}: {e}",
                R::KEY
            ))
        };
        let header = ResponseHeader::decode(&mut bytes, R::Response::header_version(version))
            .map_err(|e| decoding(e.to_string()))?;
        if header.correlation_id != self.correlation_id {
            return Err(AdminError::Transient(format!(
                "{address}: a response to request {} while waiting for {}",
                header.correlation_id, self.correlation_id
            )));
        }
        R::Response::decode(&mut bytes, version).map_err(|e| decoding(e.to_string()))
    }

    async fn handshake(&mut self, mechanism: &'static str) -> Result<(), AdminError> {
        let response = self
            .send(
                &SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(mechanism)),
            )
            .await?;
        if response.error_code != 0 {
            let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(AdminError::Refused(format!(
                "{}: SASL {mechanism} is not enabled (the broker offers {offered:?})",
                self.address
            )));
        }
        Ok(())
    }

    async fn authenticate(&mut self, bytes: Vec<u8>) -> Result<Bytes, AdminError> {
        let response = self
            .send(&SaslAuthenticateRequest::default().with_auth_bytes(bytes.into()))
            .await?;
        if response.error_code != 0 {
            let message = response.error_message.as_ref().map_or("", |m| m.as_str());
            return Err(AdminError::Refused(format!(
                "{}: authentication failed: {message}",
                self.address
            )));
        }
        Ok(response.auth_bytes)
    }

    /// SASL/SCRAM-SHA-512 (MSK's port 9096), through rsasl, the SASL library rskafka uses.
    async fn scram_sha_512(&mut self, username: &str, password: &str) -> Result<(), AdminError> {
        const MECHANISM: &str = "SCRAM-SHA-512";
        self.handshake(MECHANISM).await?;
        let refused = |e: &dyn std::fmt::Display| AdminError::Refused(format!("SCRAM: {e}"));
        let config = rsasl::config::SASLConfig::with_credentials(
            None,
            username.to_string(),
            password.to_string(),
        )
        .map_err(|e| refused(&e))?;
        let mechanism =
            rsasl::prelude::Mechname::parse(MECHANISM.as_bytes()).map_err(|e| refused(&e))?;
        let mut session = rsasl::prelude::SASLClient::new(config)
            .start_suggested(&[mechanism])
            .map_err(|e| refused(&e))?;
        let mut received: Option<Bytes> = None;
        loop {
            let mut out = Vec::new();
            let state = session
                .step(received.as_deref(), &mut out)
                .map_err(|e| refused(&e))?;
            if state.has_sent_message() {
                received = Some(self.authenticate(out).await?);
            }
            if state.is_finished() {
                return Ok(());
            }
        }
    }

    /// MSK IAM (port 9098): SASL/OAUTHBEARER with a SigV4-signed token as the bearer token, in
    /// RFC 7628's initial client response.
    async fn msk_iam(&mut self, region: &str) -> Result<(), AdminError> {
        let token = todo_kafka::client::msk_iam_token(region)
            .await
            .map_err(|e| AdminError::Transient(format!("signing the MSK IAM token: {e}")))?;
        self.handshake("OAUTHBEARER").await?;
        self.authenticate(format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes())
            .await?;
        Ok(())
    }
}
