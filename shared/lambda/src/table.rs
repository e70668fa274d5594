//! What every store over a DynamoDB table shares: sorting the SDK's failures by what a caller can
//! do about them, the error a table operation ends in, and how that error reaches a client.
//!
//! One classifier for every store, so a permanent fault (access denied, a missing table, a bad
//! request) is never reported as "busy, retry shortly", and a throttle never as a bug.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use todo_schema::Problem;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A failed call, sorted.
#[derive(Debug)]
pub enum Failure {
    /// The condition failed; the item as it was, when it exists and was asked for
    /// (ReturnValuesOnConditionCheckFailure), so no read is needed to explain it.
    Condition(Option<Item>),
    /// A transaction was cancelled; one reason per action, in order.
    Cancelled(Vec<CancellationReason>),
    /// Another transaction holds the item: a retry will go through.
    Conflict(String),
    /// Throttled, timed out, unreachable or a server error: a retry may succeed.
    Transient(String),
    /// Anything else (access, validation, a missing table): a retry fails the same way.
    Permanent(String),
}

/// Sorts an SDK error.
pub fn classify<E, R>(err: SdkError<E, R>) -> Failure
where
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    let transport = match &err {
        SdkError::TimeoutError(_) => Some("timed out"),
        SdkError::DispatchFailure(_) => Some("could not connect"),
        SdkError::ResponseError(_) => Some("unreadable response"),
        _ => None,
    };
    if let Some(reason) = transport {
        return Failure::Transient(reason.to_string());
    }
    use aws_sdk_dynamodb::Error as E;
    match aws_sdk_dynamodb::Error::from(err) {
        E::ConditionalCheckFailedException(c) => Failure::Condition(c.item),
        E::TransactionCanceledException(t) => {
            Failure::Cancelled(t.cancellation_reasons.unwrap_or_default())
        }
        e @ (E::TransactionConflictException(_) | E::TransactionInProgressException(_)) => {
            Failure::Conflict(e.to_string())
        }
        e @ (E::ProvisionedThroughputExceededException(_)
        | E::RequestLimitExceeded(_)
        | E::ThrottlingException(_)
        | E::InternalServerError(_)) => Failure::Transient(e.to_string()),
        other => Failure::Permanent(other.to_string()),
    }
}

/// How a table operation failed, as a store reports it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TableError {
    /// A retry may succeed (throttling, time-outs, conflicts, an unreachable endpoint).
    #[error("the table is unavailable: {0}")]
    Unavailable(String),
    /// A retry will not help: a permanent fault, or an item that cannot be read or written.
    #[error("table failure: {0}")]
    Failed(String),
}

impl From<Failure> for TableError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Conflict(reason) | Failure::Transient(reason) => Self::Unavailable(reason),
            Failure::Permanent(reason) => Self::Failed(reason),
            Failure::Condition(_) => Self::Failed("unexpected condition failure".into()),
            Failure::Cancelled(reasons) => {
                Self::Failed(format!("transaction cancelled: {reasons:?}"))
            }
        }
    }
}

impl TableError {
    /// An SDK error, sorted.
    pub fn of<E, R>(err: SdkError<E, R>) -> Self
    where
        aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
    {
        classify(err).into()
    }

    /// An item that cannot be encoded or decoded.
    pub fn corrupt(reason: impl std::fmt::Display) -> Self {
        Self::Failed(format!("corrupt item: {reason}"))
    }

    /// The problem a client sees (503 with Retry-After, or 500), logged for operators; `what`
    /// names the store in the message ("the inbox").
    pub fn problem(&self, what: &str) -> Problem {
        match self {
            Self::Unavailable(reason) => {
                tracing::warn!(%reason, store = what, "store unavailable");
                Problem::service_unavailable(format!(
                    "{what} is busy or unavailable; retry shortly"
                ))
            }
            Self::Failed(reason) => {
                tracing::error!(%reason, store = what, "store failure");
                Problem::internal("something went wrong on our side")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_retryable_or_not() {
        assert!(matches!(
            TableError::from(Failure::Transient("throttled".into())),
            TableError::Unavailable(_)
        ));
        assert!(matches!(
            TableError::from(Failure::Conflict("busy".into())),
            TableError::Unavailable(_)
        ));
        assert!(matches!(
            TableError::from(Failure::Permanent("AccessDenied".into())),
            TableError::Failed(_)
        ));
        assert_eq!(
            TableError::Unavailable("x".into())
                .problem("the inbox")
                .status,
            503
        );
        assert_eq!(
            TableError::Failed("x".into()).problem("the inbox").status,
            500
        );
    }
}
