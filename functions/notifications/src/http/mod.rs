//! The inbox API: `GET /notifications` and `POST /notifications/{id}/read`.

pub mod list;
pub mod read;

use todo_schema::Problem;

use crate::store::InboxError;

/// Maps an inbox error to the problem the client sees.
pub(crate) fn store_problem(e: InboxError) -> Problem {
    match e {
        InboxError::Unavailable(reason) => {
            tracing::warn!(%reason, "inbox unavailable");
            Problem::service_unavailable("the inbox is busy or unavailable; retry shortly")
        }
        InboxError::Corrupt(reason) => {
            tracing::error!(%reason, "corrupt inbox item");
            Problem::internal("something went wrong on our side")
        }
    }
}
