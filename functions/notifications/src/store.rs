//! The inbox table.
//!
//! | key | value |
//! |---|---|
//! | `pk` | `USER#<owner>` |
//! | `sk` | `NOTE#<id>`: ids are the events' UUIDv7, so key order is time order |
//! | `unread_pk` | `USER#<owner>` while unread: the sparse GSI `unread` (same `sk`) |
//! | `webhook_at` | when the webhook accepted it, so a redelivery does not post again |

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use todo_lambda::cursor::StartKey;
use todo_lambda::dynamodb::{start_key_item, start_key_of};
use todo_lambda::table::{Failure, TableError, classify};
use todo_schema::Timestamp;
use todo_schema::notification::Notification;
use uuid::Uuid;

/// The sparse index of unread notifications.
pub const INDEX_UNREAD: &str = "unread";

/// Whether a notification was new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Written now.
    New,
    /// Already in the inbox (a redelivery); `webhook_done` tells whether its webhook was sent.
    Existing { webhook_done: bool },
}

/// One page of notifications.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub next: Option<StartKey>,
}

/// The consumer's operations.
pub trait WriteInbox {
    /// Stores a notification once; a second store of the same id changes nothing.
    fn store(&self, n: &Notification) -> impl Future<Output = Result<Stored, TableError>> + Send;
    /// Records that the webhook accepted the notification.
    fn mark_delivered(
        &self,
        n: &Notification,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

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

/// The inbox table and its client.
#[derive(Clone, Debug)]
pub struct InboxStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(owner: &str, id: Uuid) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), s(format!("USER#{owner}"))),
        ("sk".to_string(), s(format!("NOTE#{id}"))),
    ])
}

fn decode(item: HashMap<String, AttributeValue>) -> Result<Notification, TableError> {
    serde_dynamo::from_item(item).map_err(TableError::corrupt)
}

impl InboxStore {
    /// A store over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl WriteInbox for InboxStore {
    async fn store(&self, n: &Notification) -> Result<Stored, TableError> {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(n).map_err(TableError::corrupt)?;
        item.extend(key(&n.owner, n.id));
        item.insert("unread_pk".into(), s(format!("USER#{}", n.owner)));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Stored::New),
            Err(e) => match classify(e) {
                Failure::Condition(item) => Ok(Stored::Existing {
                    webhook_done: item.is_some_and(|i| i.contains_key("webhook_at")),
                }),
                other => Err(other.into()),
            },
        }
    }

    async fn mark_delivered(&self, n: &Notification, at: Timestamp) -> Result<(), TableError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&n.owner, n.id)))
            .update_expression("SET webhook_at = :at")
            .expression_attribute_values(":at", s(at.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(TableError::of)
    }
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
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression("#pk = :pk AND begins_with(sk, :note)")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(format!("USER#{owner}")))
            .expression_attribute_values(":note", s("NOTE#"))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start.map(start_key_item))
            .send()
            .await
            .map_err(TableError::of)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<Result<_, _>>()?;
        let next = out.last_evaluated_key.map(start_key_of);
        Ok(NotificationPage { items, next })
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
            .set_key(Some(key(owner, id)))
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
