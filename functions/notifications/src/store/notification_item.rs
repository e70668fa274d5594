//! A notification's item: its key, its content as every channel writes it, and the deliveries
//! each channel records on it (`dlv#<channel>#<destination>`).

use todo_lambda::dynamodb::{Expr, key, user_pk};
use todo_lambda::table::{Item, TableError};
use todo_schema::notification::{Channel, Delivery, Notification};
use uuid::Uuid;

/// The attribute holding a channel's delivery to a destination.
pub(super) fn delivery_attribute(channel: Channel, destination: &str) -> String {
    format!("{DELIVERY_PREFIX}{}#{destination}", channel.as_str())
}

/// What every delivery attribute's name starts with, so a notification's deliveries are told
/// from its content.
pub(super) const DELIVERY_PREFIX: &str = "dlv#";

/// The key of `owner`'s notification `id`.
pub(super) fn note_key(owner: &str, id: Uuid) -> Item {
    key(user_pk(owner), format!("NOTE#{id}"))
}

/// The notification an item holds, its deliveries sorted by channel and destination.
pub(super) fn decode(item: Item) -> Result<Notification, TableError> {
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
pub(super) fn content(n: &Notification) -> Result<Expr, TableError> {
    let mut fresh = n.clone();
    fresh.read_at = None;
    fresh.deliveries.clear();
    let item: Item = serde_dynamo::to_item(&fresh).map_err(TableError::corrupt)?;
    let mut update = Expr::default();
    update.apply(item.into_iter().map(|(name, value)| (name, Some(value))));
    Ok(update)
}
