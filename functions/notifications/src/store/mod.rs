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
//!
//! One module per kind of item: `notification_item` (a notification's key and content),
//! `inbox` (placing it), `reads` (its owner's pages, marking read), `deliveries`, `settings`,
//! `email_stops` (what SES's bounces and complaints change),
//! `push_subscriptions`, `user_webhooks`, `parking`, and `counted` (the limits they share).

use todo_lambda::dynamodb::{s, user_pk};
use todo_lambda::table::{Item, TableError};

mod counted;
mod deliveries;
mod email_stops;
mod inbox;
mod notification_item;
mod parking;
mod push_subscriptions;
mod reads;
mod settings;
mod user_webhooks;

pub use deliveries::Deliveries;
pub use email_stops::EmailStops;
pub use inbox::{Placed, WriteInbox};
pub use parking::{INDEX_PARKED, Lane, PARK_LANES, Parkable, Parked, ParkedPage, Parking};
pub use push_subscriptions::{PushSubscriptions, Subscribed};
pub use reads::{INDEX_UNREAD, NotificationPage, ReadInbox};
pub use settings::Settings;
pub use user_webhooks::{LOG_DAYS, LogPage, Registered, UserWebhooks, WebhookLog};

/// The inbox table and its client.
#[derive(Clone, Debug)]
pub struct InboxStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
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
