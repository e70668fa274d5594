//! Sorting SDK failures into what the operations act on: a failed condition (with the old item,
//! so no read is needed to explain it), a cancelled transaction, or a store error.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::CancellationReason;

use super::StoreError;
use super::item::Item;

/// A failed write, sorted.
#[derive(Debug)]
pub enum Failure {
    /// The condition failed; the item as it was, when it exists.
    Condition(Option<Item>),
    /// A transaction was cancelled; one reason per action, in order.
    Cancelled(Vec<CancellationReason>),
    /// Anything else.
    Store(StoreError),
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
        return Failure::Store(StoreError::Unavailable(reason.to_string()));
    }
    use aws_sdk_dynamodb::Error as E;
    match aws_sdk_dynamodb::Error::from(err) {
        E::ConditionalCheckFailedException(c) => Failure::Condition(c.item),
        E::TransactionCanceledException(t) => {
            Failure::Cancelled(t.cancellation_reasons.unwrap_or_default())
        }
        E::TransactionConflictException(_) | E::TransactionInProgressException(_) => {
            Failure::Store(StoreError::Conflict)
        }
        e @ (E::ProvisionedThroughputExceededException(_)
        | E::RequestLimitExceeded(_)
        | E::ThrottlingException(_)
        | E::InternalServerError(_)) => Failure::Store(StoreError::Unavailable(e.to_string())),
        other => Failure::Store(StoreError::Internal(other.to_string())),
    }
}

/// A store error for a failure the caller has no special handling for.
pub fn into_store_error(f: Failure) -> StoreError {
    match f {
        Failure::Store(e) => e,
        Failure::Condition(_) => StoreError::Internal("unexpected condition failure".into()),
        Failure::Cancelled(reasons) => {
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                StoreError::Conflict
            } else if reasons.iter().any(|r| {
                matches!(
                    r.code(),
                    Some("ThrottlingError" | "ProvisionedThroughputExceeded")
                )
            }) {
                StoreError::Unavailable("transaction throttled".into())
            } else {
                StoreError::Internal(format!("transaction cancelled: {reasons:?}"))
            }
        }
    }
}
