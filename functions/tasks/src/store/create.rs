//! Create: one conditional put, or with an Idempotency-Key one transaction that writes the task
//! and claims the key together, so a retry can never create a second task.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use todo_schema::event::EventType;
use todo_schema::{Actor, Task};

use super::errors::{Failure, classify, into_store_error};
use super::item::{EventStamp, Item, KIND_IDEMPOTENCY, idempotency_sk, n, s, task_item, user_pk};
use super::{CreateTask, Created, DynamoTaskStore, IdempotencyClaim, StoreError};

/// How long a key is remembered, as the Idempotency-Key convention expects.
const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Internal(format!("request build: {e}")))
}

impl CreateTask for DynamoTaskStore {
    async fn create(
        &self,
        task: &Task,
        actor: &Actor,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Created, StoreError> {
        let now = task.created_at;
        let event = EventStamp::new(EventType::TaskCreated, actor, now);
        let item = task_item(task, &event, now)?;
        let Some(claim) = claim else {
            return self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .map(|_| Created::New(task.clone()))
                .map_err(|e| into_store_error(classify(e)));
        };

        let record = idempotency_record(task, claim)?;
        let put_task = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let put_claim = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", n(now.epoch_seconds()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_task).build())
            .transact_items(TransactWriteItem::builder().put(put_claim).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New(task.clone())),
            Err(e) => match classify(e) {
                Failure::Cancelled(reasons) => {
                    let seen = reasons
                        .get(1)
                        .filter(|r| r.code() == Some("ConditionalCheckFailed"))
                        .and_then(|r| r.item().cloned());
                    match seen {
                        Some(record) => replay(record, claim),
                        None => Err(into_store_error(Failure::Cancelled(reasons))),
                    }
                }
                other => Err(into_store_error(other)),
            },
        }
    }
}

fn idempotency_record(task: &Task, claim: &IdempotencyClaim) -> Result<Item, StoreError> {
    let snapshot = serde_dynamo::to_attribute_value(task)
        .map_err(|e| StoreError::Internal(format!("encode task: {e}")))?;
    let expires = task.created_at.epoch_seconds() + IDEMPOTENCY_TTL_SECONDS;
    Ok(Item::from([
        ("pk".to_string(), s(user_pk(&task.owner))),
        ("sk".to_string(), s(idempotency_sk(&claim.key))),
        ("kind".to_string(), s(KIND_IDEMPOTENCY)),
        ("digest".to_string(), s(&claim.request_digest)),
        ("task".to_string(), snapshot),
        ("ttl".to_string(), n(expires)),
    ]))
}

/// The first response for a key, or a refusal when the key came with another request.
fn replay(record: Item, claim: &IdempotencyClaim) -> Result<Created, StoreError> {
    let digest = record.get("digest").and_then(|v| v.as_s().ok());
    if digest != Some(&claim.request_digest) {
        return Err(StoreError::IdempotencyMismatch);
    }
    let task = record
        .get("task")
        .cloned()
        .ok_or_else(|| StoreError::Internal("idempotency record without task".into()))?;
    let task: Task = serde_dynamo::from_attribute_value(task)
        .map_err(|e| StoreError::Internal(format!("decode idempotency record: {e}")))?;
    Ok(Created::Replayed(task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn replay_refuses_another_request_under_the_same_key() {
        let record = Item::from([("digest".to_string(), AttributeValue::S("abc".into()))]);
        let claim = IdempotencyClaim {
            key: "k".into(),
            request_digest: "def".into(),
        };
        assert!(matches!(
            replay(record, &claim),
            Err(StoreError::IdempotencyMismatch)
        ));
    }
}
