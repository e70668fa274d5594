//! Delete: a real delete, conditional on existence (and the expected version), and in the same
//! transaction a tombstone in the `changes` index, so a client syncing later learns of it. The
//! stream's REMOVE record keeps the last image, from which the publisher derives the deletion
//! event; the tombstone is no task item, so it is never an event.

use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use todo_schema::{TaskId, Timestamp};

use super::errors::{Failure, classify, into_store_error};
use super::item::{n, task_key, tombstone_item};
use super::{DeleteTask, DynamoTaskStore, StoreError};
use todo_lambda::dynamodb::Expr;

impl DeleteTask for DynamoTaskStore {
    async fn delete(
        &self,
        owner: &str,
        id: TaskId,
        expected_version: Option<u64>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        e.require_exists();
        if let Some(v) = expected_version {
            e.require_eq("version", n(v));
        }
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(task_key(owner, id)))
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let tombstone = Put::builder()
            .table_name(&self.table)
            .set_item(Some(tombstone_item(owner, id, now)))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().put(tombstone).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match classify(err) {
                Failure::Cancelled(reasons) => {
                    let first = reasons.first();
                    if first.and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
                        match first.and_then(|r| r.item()).filter(|i| !i.is_empty()) {
                            None => Err(StoreError::NotFound),
                            Some(_) => Err(StoreError::VersionMismatch),
                        }
                    } else {
                        Err(into_store_error(Failure::Cancelled(reasons)))
                    }
                }
                other => Err(into_store_error(other)),
            },
        }
    }
}
