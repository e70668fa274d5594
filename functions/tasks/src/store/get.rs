//! Read one task: a strongly consistent GetItem, so a client reads its own writes.

use todo_schema::{Task, TaskId};

use super::errors::{classify, into_store_error};
use super::item::{task_from_item, task_key};
use super::{DynamoTaskStore, GetTask, StoreError};

impl GetTask for DynamoTaskStore {
    async fn get(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(task_key(owner, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| into_store_error(classify(e)))?;
        out.item.map(task_from_item).transpose()
    }
}
