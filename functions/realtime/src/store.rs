//! The connections table: one item per open WebSocket connection.
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | connection | `USER#<sub>` | `CONN#<connection id>` | `connection_id`, `connected_at`, `ttl` |
//!
//! A user's connections are one Query (the consumer reads them per event batch). API Gateway
//! closes a connection after two hours at most, so an item whose `$disconnect` never ran (a
//! function error, a dropped invocation) expires by TTL soon after; the consumer also removes
//! any connection that answers 410 Gone.

use std::future::Future;
use std::time::Duration;

use todo_lambda::dynamodb::{key, n, put, s, user_pk};
use todo_lambda::table::{Item, TableError};
use todo_schema::Timestamp;

/// The longest a WebSocket connection lives on API Gateway (its quota: 2 hours), plus a margin:
/// the connection items' TTL.
pub const CONNECTION_TTL: Duration = Duration::from_secs(2 * 3600 + 300);

/// An open connection of a user's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub user: String,
    pub id: String,
    pub connected_at: Timestamp,
}

/// `$connect`.
pub trait AddConnection {
    fn add(&self, c: &Connection) -> impl Future<Output = Result<(), TableError>> + Send;
}

/// `$disconnect`, and the consumer's clean-up of gone connections.
pub trait RemoveConnection {
    /// Removes the connection; one that is not there is no error.
    fn remove(&self, user: &str, id: &str) -> impl Future<Output = Result<(), TableError>> + Send;
    /// Removes the connection only if it was recorded before `before`: a connection whose
    /// `$connect` is still completing also answers 410, and must stay.
    fn remove_if_older(
        &self,
        user: &str,
        id: &str,
        before: Timestamp,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

/// The consumer's reads.
pub trait UserConnections {
    fn of_user(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<Connection>, TableError>> + Send;
}

/// The table and its client.
#[derive(Clone, Debug)]
pub struct DynamoConnections {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoConnections {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn connection_key(user: &str, id: &str) -> Item {
    key(user_pk(user), format!("CONN#{id}"))
}

impl AddConnection for DynamoConnections {
    async fn add(&self, c: &Connection) -> Result<(), TableError> {
        let mut item = connection_key(&c.user, &c.id);
        item.insert("connection_id".into(), s(&c.id));
        item.insert("connected_at".into(), s(c.connected_at.to_string()));
        let expires = c.connected_at.after(CONNECTION_TTL).epoch_seconds();
        item.insert("ttl".into(), n(expires));
        put(&self.client, &self.table, item).await
    }
}

impl RemoveConnection for DynamoConnections {
    async fn remove(&self, user: &str, id: &str) -> Result<(), TableError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(user, id)))
            .send()
            .await
            .map_err(TableError::of)?;
        Ok(())
    }

    async fn remove_if_older(
        &self,
        user: &str,
        id: &str,
        before: Timestamp,
    ) -> Result<(), TableError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(user, id)))
            .condition_expression("connected_at < :before")
            .expression_attribute_values(":before", s(before.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(TableError::of(e)),
        }
    }
}

impl UserConnections for DynamoConnections {
    async fn of_user(&self, user: &str) -> Result<Vec<Connection>, TableError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(user_pk(user)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(TableError::of)?;
            for item in page.items() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let at = text("connected_at").and_then(|t| t.parse().ok());
                match (text("connection_id"), at) {
                    (Some(id), Some(connected_at)) => out.push(Connection {
                        user: user.to_string(),
                        id: id.clone(),
                        connected_at,
                    }),
                    _ => {
                        tracing::error!(sk = ?item.get("sk"), "unreadable connection item left out")
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}
