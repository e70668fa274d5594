//! A user's Web Push subscriptions: one item each (`sk` `PUSH#<id>`), counted (see `counted`).

use std::future::Future;

use todo_lambda::dynamodb::{key, user_pk};
use todo_lambda::table::{Failure, Item, TableError, classify};
use todo_schema::push::{PushSubscription, SUBSCRIPTIONS_MAX};
use uuid::Uuid;

use super::InboxStore;
use super::counted::Added;

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
