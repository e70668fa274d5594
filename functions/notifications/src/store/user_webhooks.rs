//! Webhooks users registered, and each one's delivery log.
//!
//! | item | `pk` | `sk` | |
//! |---|---|---|---|
//! | a webhook | `USER#<owner>` | `HOOK#<webhook id>` | the webhook, its secret included |
//! | the count | `USER#<owner>` | `HOOKS` | `n`: how many the owner has (see `counted`) |
//! | a log entry | `HOOKLOG#<webhook id>` | `<event id>` | one event sent to it; ids are UUIDv7, so key order is time order; `ttl` expires it after [`LOG_DAYS`] |

use std::future::Future;

use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{key, n, put, query_page, s, user_pk};
use todo_lambda::table::{Item, TableError};
use todo_schema::user_webhook::{UserWebhook, WEBHOOKS_MAX, WebhookDelivery};
use uuid::Uuid;

use super::InboxStore;
use super::counted::Added;

/// The name of the owner's count of webhooks (see `counted`).
const COUNT: &str = "HOOKS";

/// How long a webhook's log keeps an entry.
pub const LOG_DAYS: i64 = 30;

/// Whether a webhook was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registered {
    Stored,
    /// The owner has the most webhooks already.
    TooMany,
    /// Other registrations of the owner's kept taking the room at the same moment.
    Busy,
}

/// One page of a webhook's log.
pub type LogPage = Paged<WebhookDelivery>;

/// The webhook routes' and the user-webhook channel's operations.
pub trait UserWebhooks {
    /// Stores a new webhook, unless its owner has [`WEBHOOKS_MAX`] already.
    fn register(
        &self,
        hook: &UserWebhook,
    ) -> impl Future<Output = Result<Registered, TableError>> + Send;
    /// The owner's webhooks, oldest first.
    fn webhooks(
        &self,
        owner: &str,
    ) -> impl Future<Output = Result<Vec<UserWebhook>, TableError>> + Send;
    /// One of the owner's webhooks, if they have it.
    fn webhook(
        &self,
        owner: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<UserWebhook>, TableError>> + Send;
    /// Removes one; `false` when the owner has no such webhook.
    fn unregister(
        &self,
        owner: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<bool, TableError>> + Send;
}

/// A webhook's delivery log.
pub trait WebhookLog {
    /// What the log says of this event sent to this webhook.
    fn entry(
        &self,
        webhook: Uuid,
        event: Uuid,
    ) -> impl Future<Output = Result<Option<WebhookDelivery>, TableError>> + Send;
    /// Writes an entry (replacing the event's earlier one).
    fn log(&self, entry: &WebhookDelivery) -> impl Future<Output = Result<(), TableError>> + Send;
    /// A page of the log, newest first.
    fn entries(
        &self,
        webhook: Uuid,
        limit: i32,
        start: Option<StartKey>,
    ) -> impl Future<Output = Result<LogPage, TableError>> + Send;
}

fn hook_key(owner: &str, id: Uuid) -> Item {
    key(user_pk(owner), format!("HOOK#{id}"))
}

fn log_pk(webhook: Uuid) -> String {
    format!("HOOKLOG#{webhook}")
}

fn log_key(webhook: Uuid, event: Uuid) -> Item {
    key(log_pk(webhook), event.to_string())
}

impl UserWebhooks for InboxStore {
    async fn register(&self, hook: &UserWebhook) -> Result<Registered, TableError> {
        let mut item: Item = serde_dynamo::to_item(hook).map_err(TableError::corrupt)?;
        item.extend(hook_key(&hook.owner, hook.id));
        Ok(
            match self
                .add_counted(&hook.owner, COUNT, WEBHOOKS_MAX, item)
                .await?
            {
                // A fresh UUIDv7 is never taken.
                Added::Stored | Added::Exists => Registered::Stored,
                Added::TooMany => Registered::TooMany,
                Added::Busy => Registered::Busy,
            },
        )
    }

    async fn webhooks(&self, owner: &str) -> Result<Vec<UserWebhook>, TableError> {
        self.owned(owner, "HOOK#").await
    }

    async fn webhook(&self, owner: &str, id: Uuid) -> Result<Option<UserWebhook>, TableError> {
        self.one(hook_key(owner, id)).await
    }

    async fn unregister(&self, owner: &str, id: Uuid) -> Result<bool, TableError> {
        self.remove_counted(owner, COUNT, hook_key(owner, id)).await
    }
}

impl WebhookLog for InboxStore {
    async fn entry(
        &self,
        webhook: Uuid,
        event: Uuid,
    ) -> Result<Option<WebhookDelivery>, TableError> {
        self.one(log_key(webhook, event)).await
    }

    async fn log(&self, entry: &WebhookDelivery) -> Result<(), TableError> {
        let mut item: Item = serde_dynamo::to_item(entry).map_err(TableError::corrupt)?;
        item.extend(log_key(entry.webhook_id, entry.event_id));
        let expires = entry.updated_at.epoch_seconds() + LOG_DAYS * 86_400;
        item.insert("ttl".into(), n(expires));
        put(&self.client, &self.table, item).await
    }

    async fn entries(
        &self,
        webhook: Uuid,
        limit: i32,
        start: Option<StartKey>,
    ) -> Result<LogPage, TableError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(log_pk(webhook)))
            .scan_index_forward(false);
        query_page(query, limit, start, |i| {
            serde_dynamo::from_item(i).map_err(TableError::corrupt)
        })
        .await
    }
}
