//! The inbox table.
//!
//! | key | value |
//! |---|---|
//! | `pk` | `USER#<owner>` |
//! | `sk` | `NOTE#<id>`: ids are the events' UUIDv7, so key order is time order |
//! | `unread_pk` | `USER#<owner>` while unread in the inbox: the sparse GSI `unread` (same `sk`) |
//! | `dlv#<channel>#<destination>` | a channel's delivery (status, attempts, last error) |
//!
//! A user's notification settings are one item beside their notifications: `pk` `USER#<owner>`,
//! `sk` `SETTINGS`, the settings in `settings` (no `NOTE#` prefix: lists never see it). Their
//! push subscriptions too: `sk` `PUSH#<subscription id>`, one item each, counted in `PUSHES`
//! (see `counted`).
//!
//! A delivery a channel will make later (held back by quiet hours, or retried off the
//! partition) is *parked* beside them: see `parking`.
//!
//! Every channel consumer runs on its own, in any order, so each one writes the notification's
//! content along with its own delivery (the same content: it comes from the same event). The
//! in-app channel alone sets `unread_pk`, once: a redelivery after the user read it does not
//! make it unread again.

use std::future::Future;

use aws_sdk_dynamodb::types::ReturnValue;
use todo_lambda::cursor::{Paged, StartKey};
use todo_lambda::dynamodb::{Expr, key, put, query_page, s, user_pk};
use todo_lambda::table::{Failure, Item, TableError, classify};
use todo_schema::Timestamp;
use todo_schema::notification::{Channel, Delivery, Notification};
use todo_schema::push::{PushSubscription, SUBSCRIPTIONS_MAX};
use todo_schema::settings::NotificationSettings;
use uuid::Uuid;

mod counted;
mod parking;
mod user_webhooks;

use counted::Added;
pub use parking::{INDEX_PARKED, Parked, ParkedPage, Parking};
pub use user_webhooks::{LOG_DAYS, LogPage, Registered, UserWebhooks, WebhookLog};

/// The sparse index of unread notifications.
pub const INDEX_UNREAD: &str = "unread";

/// Whether the in-app channel placed a notification now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// Placed in the inbox now.
    New,
    /// Already placed (a redelivery).
    Already,
}

/// The attribute holding a channel's delivery to a destination.
fn delivery_attribute(channel: Channel, destination: &str) -> String {
    format!("{DELIVERY_PREFIX}{}#{destination}", channel.as_str())
}

const DELIVERY_PREFIX: &str = "dlv#";

/// One page of notifications.
pub type NotificationPage = Paged<Notification>;

/// The in-app channel's operation.
pub trait WriteInbox {
    /// Places a notification in the inbox once; a second placement changes nothing.
    fn place(&self, n: &Notification) -> impl Future<Output = Result<Placed, TableError>> + Send;
}

/// The delivery channels' operations: one record per (notification, channel, destination).
pub trait Deliveries {
    /// Every recorded delivery of this notification on `channel`.
    fn deliveries(
        &self,
        n: &Notification,
        channel: Channel,
    ) -> impl Future<Output = Result<Vec<Delivery>, TableError>> + Send;
    /// Records a delivery, writing the notification's content too (whichever channel comes
    /// first creates it).
    fn record(
        &self,
        n: &Notification,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

/// The settings routes' and the channels' operations.
pub trait Settings {
    /// The owner's settings (the defaults when they never set any).
    fn settings(
        &self,
        owner: &str,
    ) -> impl Future<Output = Result<NotificationSettings, TableError>> + Send;
    /// Replaces the owner's settings.
    fn put_settings(
        &self,
        owner: &str,
        settings: &NotificationSettings,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

/// Whether a subscription was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// Stored (new, or the same endpoint's keys replaced).
    Stored,
    /// The owner has the most subscriptions already.
    TooMany,
    /// Other subscriptions of the owner's kept changing at the same moment.
    Busy,
}

/// The name of the owner's count of push subscriptions (see `counted`).
const PUSH_COUNT: &str = "PUSHES";

/// The push subscription routes' and the push channel's operations.
pub trait PushSubscriptions {
    /// Stores a subscription (replacing the owner's one at the same endpoint).
    fn subscribe(
        &self,
        subscription: &PushSubscription,
    ) -> impl Future<Output = Result<Subscribed, TableError>> + Send;
    /// Removes one; `false` when the owner has no such subscription.
    fn unsubscribe(
        &self,
        owner: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<bool, TableError>> + Send;
    /// One of the owner's subscriptions, if they have it.
    fn subscription(
        &self,
        owner: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<PushSubscription>, TableError>> + Send;
    /// The owner's subscriptions.
    fn subscriptions(
        &self,
        owner: &str,
    ) -> impl Future<Output = Result<Vec<PushSubscription>, TableError>> + Send;
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

fn note_key(owner: &str, id: Uuid) -> Item {
    key(user_pk(owner), format!("NOTE#{id}"))
}

fn decode(item: Item) -> Result<Notification, TableError> {
    let mut deliveries: Vec<Delivery> = item
        .iter()
        .filter(|(name, _)| name.starts_with(DELIVERY_PREFIX))
        .map(|(_, value)| serde_dynamo::from_attribute_value(value.clone()))
        .collect::<Result<_, _>>()
        .map_err(TableError::corrupt)?;
    deliveries.sort_by(|a, b| (a.channel, &a.destination).cmp(&(b.channel, &b.destination)));
    let mut n: Notification = serde_dynamo::from_item(item).map_err(TableError::corrupt)?;
    n.deliveries = deliveries;
    Ok(n)
}

/// An update writing the notification's content (not its key, never `read_at`).
fn content(n: &Notification) -> Result<Expr, TableError> {
    let mut fresh = n.clone();
    fresh.read_at = None;
    fresh.deliveries.clear();
    let item: Item = serde_dynamo::to_item(&fresh).map_err(TableError::corrupt)?;
    let mut update = Expr::default();
    update.apply(item.into_iter().map(|(name, value)| (name, Some(value))));
    Ok(update)
}

impl InboxStore {
    /// Every item of `owner`'s whose sort key starts with `prefix`, read consistently.
    async fn owned<T: serde::de::DeserializeOwned>(
        &self,
        owner: &str,
        prefix: &str,
    ) -> Result<Vec<T>, TableError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(user_pk(owner)))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .send()
            .await
            .map_err(TableError::of)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|i| serde_dynamo::from_item(i).map_err(TableError::corrupt))
            .collect()
    }

    /// The item at `key`, read consistently, if there is one.
    async fn one<T: serde::de::DeserializeOwned>(
        &self,
        key: Item,
    ) -> Result<Option<T>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(TableError::of)?;
        out.item
            .map(|i| serde_dynamo::from_item(i).map_err(TableError::corrupt))
            .transpose()
    }

    /// A store over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl WriteInbox for InboxStore {
    async fn place(&self, n: &Notification) -> Result<Placed, TableError> {
        let mut update = content(n)?;
        let delivered = Delivery::attempt(Channel::InApp, "inbox", None, Ok(()), Timestamp::now());
        update.set("unread_pk", s(user_pk(&n.owner)));
        let placed = delivery_attribute(Channel::InApp, "inbox");
        update.set(
            &placed,
            serde_dynamo::to_attribute_value(&delivered).map_err(TableError::corrupt)?,
        );
        update.require_absent(&placed);
        update.require_absent("read_at");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(note_key(&n.owner, n.id)))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression())
            .set_expression_attribute_names(update.names())
            .set_expression_attribute_values(update.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Placed::New),
            Err(e) => match classify(e) {
                Failure::Condition(_) => Ok(Placed::Already),
                other => Err(other.into()),
            },
        }
    }
}

impl Deliveries for InboxStore {
    async fn deliveries(
        &self,
        n: &Notification,
        channel: Channel,
    ) -> Result<Vec<Delivery>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(note_key(&n.owner, n.id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(TableError::of)?;
        let prefix = format!("{DELIVERY_PREFIX}{}#", channel.as_str());
        out.item
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(_, value)| {
                serde_dynamo::from_attribute_value(value).map_err(TableError::corrupt)
            })
            .collect()
    }

    async fn record(&self, n: &Notification, delivery: &Delivery) -> Result<(), TableError> {
        let mut update = content(n)?;
        update.set(
            &delivery_attribute(delivery.channel, &delivery.destination),
            serde_dynamo::to_attribute_value(delivery).map_err(TableError::corrupt)?,
        );
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(note_key(&n.owner, n.id)))
            .update_expression(update.update_expression())
            .set_expression_attribute_names(update.names())
            .set_expression_attribute_values(update.values())
            .send()
            .await
            .map(|_| ())
            .map_err(TableError::of)
    }
}

fn settings_key(owner: &str) -> Item {
    key(user_pk(owner), "SETTINGS")
}

impl Settings for InboxStore {
    async fn settings(&self, owner: &str) -> Result<NotificationSettings, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(settings_key(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(TableError::of)?;
        match out.item.and_then(|mut i| i.remove("settings")) {
            Some(value) => serde_dynamo::from_attribute_value(value).map_err(TableError::corrupt),
            None => Ok(NotificationSettings::default()),
        }
    }

    async fn put_settings(
        &self,
        owner: &str,
        settings: &NotificationSettings,
    ) -> Result<(), TableError> {
        let mut item = settings_key(owner);
        item.insert(
            "settings".into(),
            serde_dynamo::to_attribute_value(settings).map_err(TableError::corrupt)?,
        );
        put(&self.client, &self.table, item).await
    }
}

fn push_key(owner: &str, id: Uuid) -> Item {
    key(user_pk(owner), format!("PUSH#{id}"))
}

impl PushSubscriptions for InboxStore {
    async fn subscribe(&self, subscription: &PushSubscription) -> Result<Subscribed, TableError> {
        let mut item: Item = serde_dynamo::to_item(subscription).map_err(TableError::corrupt)?;
        item.extend(push_key(&subscription.owner, subscription.id));
        // The same endpoint again replaces its keys (no new device, the count unchanged);
        // a new one is added with the count. Twice, for a device subscribed by two requests
        // at once: the loser of the add finds it there and replaces it.
        for _ in 0..2 {
            let replaced = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_exists(pk)")
                .send()
                .await;
            match replaced.map_err(classify) {
                Ok(_) => return Ok(Subscribed::Stored),
                Err(Failure::Condition(_)) => {}
                Err(other) => return Err(other.into()),
            }
            match self
                .add_counted(
                    &subscription.owner,
                    PUSH_COUNT,
                    SUBSCRIPTIONS_MAX,
                    item.clone(),
                )
                .await?
            {
                Added::Stored => return Ok(Subscribed::Stored),
                Added::TooMany => return Ok(Subscribed::TooMany),
                Added::Busy => return Ok(Subscribed::Busy),
                Added::Exists => {}
            }
        }
        Ok(Subscribed::Busy)
    }

    async fn unsubscribe(&self, owner: &str, id: Uuid) -> Result<bool, TableError> {
        self.remove_counted(owner, PUSH_COUNT, push_key(owner, id))
            .await
    }

    async fn subscription(
        &self,
        owner: &str,
        id: Uuid,
    ) -> Result<Option<PushSubscription>, TableError> {
        self.one(push_key(owner, id)).await
    }

    async fn subscriptions(&self, owner: &str) -> Result<Vec<PushSubscription>, TableError> {
        self.owned(owner, "PUSH#").await
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
