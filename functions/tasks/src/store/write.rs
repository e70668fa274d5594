//! The two conditional writes every change is made of. A failed condition hands back the item
//! as it was (ReturnValuesOnConditionCheckFailure), so callers explain or retry a refusal
//! without reading first.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use todo_schema::{Task, TaskId, Timestamp};

use super::errors::{Failure, classify, into_store_error};
use super::item::{Item, n, task_from_item, task_key};
use super::{DynamoTaskStore, StoreError};
use todo_lambda::dynamodb::Expr;

/// A conditional write that did not happen: the task as it is, or `None` when there is none.
pub type Refused = Option<Task>;

/// Whether the caller asked for a version the task no longer has.
pub fn is_stale(expected: Option<u64>, current: &Task) -> bool {
    expected.is_some_and(|v| v != current.version)
}

/// The time to stamp the next change of `current` with: `now`, or just after the task's last
/// change when another writer's clock ran ahead. A task's times follow its versions, whichever
/// handler started first.
pub fn stamp_after(current: &Task, now: Timestamp) -> Timestamp {
    now.max(current.updated_at.successor())
}

impl DynamoTaskStore {
    /// The UpdateItem of `e` on one task, for the callers to say what comes back.
    fn update_request(&self, owner: &str, id: TaskId, e: &Expr) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(task_key(owner, id)))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
    }

    /// An UpdateItem; the task after it, or the refusal.
    pub(super) async fn update_task(
        &self,
        owner: &str,
        id: TaskId,
        e: Expr,
    ) -> Result<Result<Task, Refused>, StoreError> {
        let result = self
            .update_request(owner, id, &e)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Internal("update returned no item".into()))?;
                task_from_item(item).map(Ok)
            }
            Err(err) => refusal(classify(err)).map(Err),
        }
    }

    /// An UpdateItem whose caller needs only whether it happened: `Ok(false)` when its
    /// condition failed. Nothing comes back to parse (the reminder sweep, where parsing each
    /// task twice, from the index and from the write, was CPU a burst cannot spare).
    pub(super) async fn update_task_unread(
        &self,
        owner: &str,
        id: TaskId,
        e: Expr,
    ) -> Result<bool, StoreError> {
        let result = self.update_request(owner, id, &e).send().await;
        match result.map_err(classify) {
            Ok(_) => Ok(true),
            Err(Failure::Condition(_)) => Ok(false),
            Err(other) => Err(into_store_error(other)),
        }
    }

    /// A PutItem that replaces the task only while it is still at `version`.
    pub(super) async fn replace_task(
        &self,
        item: Item,
        version: u64,
    ) -> Result<Result<(), Refused>, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(err) => refusal(classify(err)).map(Err),
        }
    }
}

/// The refusal behind a failed condition, or the error when it was something else.
pub fn refusal(f: Failure) -> Result<Refused, StoreError> {
    match f {
        Failure::Condition(old) => old.map(task_from_item).transpose(),
        other => Err(into_store_error(other)),
    }
}
