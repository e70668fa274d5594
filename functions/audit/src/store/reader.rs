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
    /// The owner's entries between two instants (inclusive), oldest first.
    fn between(
        &self,
        owner: &str,
        from: Timestamp,
        to: Timestamp,
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
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(history_pk(owner, task)));
        self.page_of(query, limit, start).await
    }

    async fn between(
        &self,
        owner: &str,
        from: Timestamp,
        to: Timestamp,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        let query = self
            .client
            .query()
            .index_name(INDEX_BY_OWNER)
            .key_condition_expression("owner_pk = :o AND owner_sk BETWEEN :from AND :to")
            .expression_attribute_values(":o", s(user_pk(owner)))
            .expression_attribute_values(":from", s(from.to_string()))
            // `~` sorts after the `#<event id>` suffix, so entries at `to` itself are included.
            .expression_attribute_values(":to", s(format!("{to}~")));
        self.page_of(query, limit, start).await
    }
}

impl AuditStore {
    /// Runs one page of a query.
    async fn page_of(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<EntryPage, TableError> {
        query_page(query.table_name(&self.table), limit, start, entry_of).await
    }
}
