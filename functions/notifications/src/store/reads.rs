//! The inbox as its owner reads it: pages of notifications (all, or the unread ones through the
//! sparse index), and marking one read.

use std::future::Future;

use aws_sdk_dynamodb::types::ReturnValue;
use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{query_page, s, user_pk};
use todo_lambda::table::{Failure, TableError, classify};
use todo_schema::Timestamp;
use todo_schema::notification::Notification;
use uuid::Uuid;

use super::InboxStore;
use super::notification_item::{decode, note_key};

/// The sparse index of unread notifications.
pub const INDEX_UNREAD: &str = "unread";

/// One page of notifications.
pub type NotificationPage = Paged<Notification>;

/// The read API's operations.
pub trait ReadInbox {
    /// A page of the owner's notifications, newest first (only unread ones if asked).
    fn list(
        &self,
        owner: &str,
        unread_only: bool,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<NotificationPage, TableError>> + Send;
    /// Marks one read (idempotent); `None` when the owner has no such notification.
    fn mark_read(
        &self,
        owner: &str,
        id: Uuid,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<Notification>, TableError>> + Send;
}

impl ReadInbox for InboxStore {
    async fn list(
        &self,
        owner: &str,
        unread_only: bool,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<NotificationPage, TableError> {
        let (index, pk_attr) = if unread_only {
            (Some(INDEX_UNREAD), "unread_pk")
        } else {
            (None, "pk")
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression("#pk = :pk AND begins_with(sk, :note)")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(user_pk(owner)))
            .expression_attribute_values(":note", s("NOTE#"))
            .scan_index_forward(false);
        query_page(query, limit, start, decode).await
    }

    async fn mark_read(
        &self,
        owner: &str,
        id: Uuid,
        at: Timestamp,
    ) -> Result<Option<Notification>, TableError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(note_key(owner, id)))
            .update_expression("SET read_at = if_not_exists(read_at, :at) REMOVE unread_pk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(at.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(decode).transpose(),
            Err(e) => match classify(e) {
                Failure::Condition(_) => Ok(None),
                other => Err(other.into()),
            },
        }
    }
}
