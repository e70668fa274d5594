//! Tasks put straight into the table, as a create stores them: for the tests and benchmarks that
//! need thousands of reminders due at one instant, or one account with 100,000 tasks, which one
//! create at a time through the API would take minutes to set up. Nothing in a function calls it.

use futures_util::{StreamExt, TryStreamExt, stream};
use todo_schema::event::EventType;
use todo_schema::{Actor, NewTask, TaskId, Timestamp};

use super::errors::{classify, into_store_error};
use super::item::{EventStamp, task_item};
use super::{DynamoTaskStore, StoreError};

/// Puts at once.
const IN_FLIGHT: usize = 32;

impl DynamoTaskStore {
    /// One task per entry of `owners` (an owner named n times gets n tasks), created at
    /// `created` with one reminder at `due`; the ids of the tasks, in the order of `owners`.
    pub async fn seed_reminders(
        &self,
        owners: impl IntoIterator<Item = String>,
        due: Timestamp,
        created: Timestamp,
    ) -> Result<Vec<TaskId>, StoreError> {
        let reminder = serde_json::json!({
            "title": "Stand-up", "reminders": [{"at": due.to_string()}]
        });
        self.seed_tasks(
            owners.into_iter().map(|owner| (owner, reminder.clone())),
            created,
        )
        .await
    }

    /// One task per `(owner, body)`, the body as `POST /tasks` takes it (checked as a create
    /// checks it), created at `created`; the ids of the tasks, in order.
    pub async fn seed_tasks(
        &self,
        tasks: impl IntoIterator<Item = (String, serde_json::Value)>,
        created: Timestamp,
    ) -> Result<Vec<TaskId>, StoreError> {
        let tasks = tasks
            .into_iter()
            .map(|(owner, body)| {
                let cmd: NewTask = serde_json::from_value(body)
                    .map_err(|e| StoreError::Internal(format!("seed: {e}")))?;
                let task = cmd
                    .into_task(TaskId::generate(), &owner, created)
                    .map_err(|e| StoreError::Internal(format!("seed: {e:?}")))?;
                let actor = Actor::User { id: owner };
                let event = EventStamp::new(EventType::TaskCreated, &actor, created);
                Ok((task.id, task_item(&task, &event, created)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        stream::iter(tasks)
            .map(|(id, item)| async move {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .map(|_| id)
                    .map_err(|e| into_store_error(classify(e)))
            })
            .buffered(IN_FLIGHT)
            .try_collect()
            .await
    }
}
