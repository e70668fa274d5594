//! The audit read API: `GET /tasks/{id}/history` and `GET /audit`, the caller's entries only.

pub mod audit;
pub mod history;

use lambda_http::aws_lambda_events::query_map::QueryMap;
use todo_lambda::cursor::{CursorCodec, StartKey};
use todo_lambda::http::{Page, only_known, page_limit};
use todo_schema::Problem;
use todo_schema::audit::AuditEntry;

use crate::store::{AuditError, EntryPage};

/// Refuses parameters outside `known` and reads `limit` and `cursor`.
pub(crate) fn paging(params: &QueryMap, known: &[&str]) -> Result<(i32, Option<String>), Problem> {
    only_known(params, known)?;
    let limit = page_limit(params)?;
    Ok((limit as i32, params.first("cursor").map(str::to_string)))
}

/// The start key in the cursor, if any.
pub(crate) fn start(
    cursors: &CursorCodec,
    scope: &str,
    cursor: Option<String>,
) -> Result<Option<StartKey>, Problem> {
    cursor.map(|c| cursors.decode(scope, &c)).transpose()
}

/// The page as the API answers it.
pub(crate) fn page(cursors: &CursorCodec, scope: &str, page: EntryPage) -> Page<AuditEntry> {
    Page {
        items: page.entries,
        next_cursor: page.next.map(|k| cursors.encode(scope, k)),
    }
}

/// Maps an audit store error to the problem the client sees.
pub(crate) fn store_problem(e: AuditError) -> Problem {
    match e {
        AuditError::Unavailable(reason) => {
            tracing::warn!(%reason, "audit table unavailable");
            Problem::service_unavailable("the audit log is busy or unavailable; retry shortly")
        }
        AuditError::Corrupt(reason) => {
            tracing::error!(%reason, "corrupt audit item");
            Problem::internal("something went wrong on our side")
        }
    }
}
