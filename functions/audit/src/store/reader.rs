//! Reading an owner's entries: a task's history, and the owner's entries in a time range.

use std::future::Future;

use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{query_page, s, user_pk};
use todo_lambda::table::TableError;
use todo_schema::audit::AuditEntry;
use todo_schema::{TaskId, Timestamp};

use super::{AuditStore, INDEX_BY_OWNER, entry_of, history_pk};

/// One page of entries.
pub type EntryPage = Paged<AuditEntry>;

/// An inclusive time range (the routes read it from `from` and `to`: `http::range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Reads entries (history and audit routes).
pub trait ReadEntries {
    /// A task's history, oldest first.
    fn history(
        &self,
        owner: &str,
        task: TaskId,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<EntryPage, TableError>> + Send;
    /// The owner's entries within `range`, oldest first.
    fn between(
        &self,
        owner: &str,
        range: Range,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<EntryPage, TableError>> + Send;
}

impl ReadEntries for AuditStore {
    async fn history(
        &self,
        owner: &str,
        task: TaskId,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        let query = self
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(history_pk(owner, task)));
        query_page(query, limit, start, entry_of).await
    }

    async fn between(
        &self,
        owner: &str,
        Range { from, to }: Range,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        let query = self
            .query()
            .index_name(INDEX_BY_OWNER)
            .key_condition_expression("owner_pk = :o AND owner_sk BETWEEN :from AND :to")
            .expression_attribute_values(":o", s(user_pk(owner)))
            .expression_attribute_values(":from", s(from.to_string()))
            // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
            .expression_attribute_values(":to", s(format!("{to}~")));
        query_page(query, limit, start, entry_of).await
    }
}
