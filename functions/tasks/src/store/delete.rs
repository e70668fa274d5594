//! Delete: a real delete, conditional on existence (and the expected version). The stream's
//! REMOVE record keeps the last image, from which the publisher derives the deletion event.

use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use todo_schema::TaskId;

use super::errors::{Failure, classify, into_store_error};
use super::expr::Expr;
use super::item::{n, task_key};
use super::{DeleteTask, DynamoTaskStore, StoreError};

impl DeleteTask for DynamoTaskStore {
    async fn delete(
        &self,
        owner: &str,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        e.require_exists();
        if let Some(v) = expected_version {
            e.require_eq("version", n(v));
        }
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(task_key(owner, id)))
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match classify(err) {
                Failure::Condition(None) => Err(StoreError::NotFound),
                Failure::Condition(Some(_)) => Err(StoreError::VersionMismatch),
                other => Err(into_store_error(other)),
            },
        }
    }
}
