//! Why talking to Kafka failed, sorted by what a caller can do about it: the Kafka counterpart
//! of `todo_lambda::table`'s classes, so a refusal (a wrong password, a missing topic, an
//! authorization) is never reported as "busy, retry shortly", and an outage never as a bug.

use std::fmt::Display;

use rskafka::client::error::{Error as ClientError, ProtocolError};

/// A Kafka operation that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KafkaError {
    /// The brokers are unreachable, slow, moving leaders, or answered an error Kafka calls
    /// retriable; or the deadline came first: a retry may succeed.
    #[error("{0}")]
    Transient(String),
    /// Refused for good (authentication, authorization, a topic that does not exist, a record
    /// the broker will not take, TLS settings that cannot work): a retry fails the same way
    /// until someone fixes something.
    #[error("{0}")]
    Refused(String),
}

impl KafkaError {
    pub fn is_transient(&self) -> bool {
        matches!(self, KafkaError::Transient(_))
    }

    /// An rskafka error, sorted, its text after `context` (`"{context}: {error}"`).
    pub fn of(context: impl Display, error: ClientError) -> Self {
        let text = format!("{context}: {error}");
        if refused(&error) {
            KafkaError::Refused(text)
        } else {
            KafkaError::Transient(text)
        }
    }
}

/// Whether rskafka's error is one a retry cannot cure.
fn refused(error: &ClientError) -> bool {
    use rskafka::client::error::Error as E;
    match error {
        // rskafka keeps its connection error's type private: its SASL failure is known by its
        // text (a wrong password, a mechanism the broker does not offer).
        E::Connection(c) => c.to_string().starts_with("Sasl handshake failed"),
        E::ServerError { protocol_error, .. } => matches!(
            protocol_error,
            ProtocolError::SaslAuthenticationFailed
                | ProtocolError::UnsupportedSaslMechanism
                | ProtocolError::IllegalSaslState
                | ProtocolError::TopicAuthorizationFailed
                | ProtocolError::GroupAuthorizationFailed
                | ProtocolError::ClusterAuthorizationFailed
                | ProtocolError::TransactionalIdAuthorizationFailed
                | ProtocolError::InvalidTopicException
                | ProtocolError::MessageTooLarge
                | ProtocolError::RecordListTooLarge
                | ProtocolError::UnsupportedVersion
        ),
        _ => false,
    }
}
