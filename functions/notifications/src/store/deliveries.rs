//! The channels' deliveries of a notification, recorded on its item: one per channel and
//! destination.

use std::future::Future;

use todo_lambda::table::TableError;
use todo_schema::notification::{Channel, Delivery, Notification};

use super::InboxStore;
use super::notification_item::{DELIVERY_PREFIX, content, delivery_attribute, note_key};

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
