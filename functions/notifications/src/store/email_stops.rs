//! What SES's bounce and complaint events change: the owner's e-mail turned off with the reason
//! (on their settings item), and the e-mail's delivery marked failed (on the notification).
//! Both are conditional updates, so an event arriving late or twice changes nothing it should
//! not: a user who has since changed their address keeps e-mail on.

use std::future::Future;

use todo_lambda::dynamodb::s;
use todo_lambda::table::{Failure, TableError, classify};
use todo_schema::Timestamp;
use todo_schema::notification::Channel;
use todo_schema::settings::EmailStopped;
use uuid::Uuid;

use super::InboxStore;
use super::notification_item::{delivery_attribute, note_key};
use super::settings::settings_key;

/// The e-mail feedback function's operations.
pub trait EmailStops {
    /// Turns `owner`'s e-mail off with `stopped` as the reason, when their settings still name
    /// `stopped.address`. Whether they did.
    fn stop_email(
        &self,
        owner: &str,
        stopped: &EmailStopped,
    ) -> impl Future<Output = Result<bool, TableError>> + Send;
    /// Marks notification `id`'s e-mail to `address` failed (`why` as its last error), when that
    /// delivery was recorded. Whether it was.
    fn fail_email_delivery(
        &self,
        owner: &str,
        id: Uuid,
        address: &str,
        why: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, TableError>> + Send;
}

/// `Ok(false)` for a failed condition, the error otherwise.
fn applied<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, TableError>
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) => match classify(e) {
            Failure::Condition(_) => Ok(false),
            other => Err(other.into()),
        },
    }
}

impl EmailStops for InboxStore {
    async fn stop_email(&self, owner: &str, stopped: &EmailStopped) -> Result<bool, TableError> {
        let reason = serde_dynamo::to_attribute_value(stopped).map_err(TableError::corrupt)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(settings_key(owner)))
            .update_expression("SET #s.#e.#on = :off, #s.#e.#stopped = :stopped")
            .condition_expression("#s.#e.#address = :address")
            .expression_attribute_names("#s", "settings")
            .expression_attribute_names("#e", "email")
            .expression_attribute_names("#on", "enabled")
            .expression_attribute_names("#stopped", "stopped")
            .expression_attribute_names("#address", "address")
            .expression_attribute_values(
                ":off",
                aws_sdk_dynamodb::types::AttributeValue::Bool(false),
            )
            .expression_attribute_values(":stopped", reason)
            .expression_attribute_values(":address", s(&stopped.address))
            .send()
            .await;
        applied(result)
    }

    async fn fail_email_delivery(
        &self,
        owner: &str,
        id: Uuid,
        address: &str,
        why: &str,
        at: Timestamp,
    ) -> Result<bool, TableError> {
        let at = serde_dynamo::to_attribute_value(at).map_err(TableError::corrupt)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(note_key(owner, id)))
            .update_expression(
                "SET #d.#status = :failed, #d.#error = :why, #d.#updated = :at \
                 REMOVE #d.#delivered, #d.#next",
            )
            .condition_expression("attribute_exists(#d)")
            .expression_attribute_names("#d", delivery_attribute(Channel::Email, address))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "last_error")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#delivered", "delivered_at")
            .expression_attribute_names("#next", "next_attempt_at")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":why", s(why))
            .expression_attribute_values(":at", at)
            .send()
            .await;
        applied(result)
    }
}
