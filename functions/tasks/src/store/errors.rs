//! The tasks store's reading of a failed DynamoDB call: the shared classifier
//! (`todo_lambda::table`), with conflicts and cancelled transactions in the store's own terms.

pub use todo_lambda::table::{Failure, classify};

use super::StoreError;

/// A store error for a failure the caller has no special handling for.
pub fn into_store_error(f: Failure) -> StoreError {
    match f {
        Failure::Transient(reason) => StoreError::Unavailable(reason),
        Failure::Permanent(reason) => StoreError::Internal(reason),
        Failure::Conflict(_) => StoreError::Conflict,
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
