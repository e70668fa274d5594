//! Placing a notification in the inbox: the in-app channel's one write.

use std::future::Future;

use todo_lambda::dynamodb::{s, user_pk};
use todo_lambda::table::{Failure, TableError, classify};
use todo_schema::Timestamp;
use todo_schema::notification::{Channel, Delivery, Notification};

use super::InboxStore;
use super::notification_item::{content, delivery_attribute, note_key};

/// Whether the in-app channel placed a notification now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// Placed in the inbox now.
    New,
    /// Already placed (a redelivery).
    Already,
}

/// The in-app channel's operation.
pub trait WriteInbox {
    /// Places a notification in the inbox once; a second placement changes nothing.
    fn place(&self, n: &Notification) -> impl Future<Output = Result<Placed, TableError>> + Send;
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
