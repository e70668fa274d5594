//! A user's notification settings: one item beside their notifications (`sk` `SETTINGS`).

use std::future::Future;

use todo_lambda::dynamodb::{key, put, user_pk};
use todo_lambda::table::{Item, TableError};
use todo_schema::settings::NotificationSettings;

use super::InboxStore;

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

pub(super) fn settings_key(owner: &str) -> Item {
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
