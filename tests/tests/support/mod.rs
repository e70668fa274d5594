//! Seeding the tasks table through the real store, so its stream holds real task changes.

#![allow(dead_code)]

use serde_json::json;
use todo_schema::{Actor, NewTask, Task, TaskId, TaskPatch, Timestamp};
use todo_tasks::store::{CreateTask, DynamoTaskStore, TaskWrite, UpdateTask};

/// The user every seeded change is made by.
pub const OWNER: &str = "u1";

pub fn actor() -> Actor {
    Actor::User { id: OWNER.into() }
}

/// Creates a task titled `title`.
pub async fn create(store: &DynamoTaskStore, title: &str) -> Task {
    let cmd: NewTask = serde_json::from_value(json!({"title": title})).unwrap();
    let task = cmd
        .into_task(TaskId::generate(), OWNER, Timestamp::now())
        .unwrap();
    store.create(&task, &actor(), None).await.unwrap();
    task
}

/// Renames a task (one `task.updated`).
pub async fn rename(store: &DynamoTaskStore, task: &Task, title: &str) {
    let patch: TaskPatch = serde_json::from_value(json!({"title": title})).unwrap();
    store
        .update(
            &TaskWrite::new(OWNER, task.id, &actor(), Timestamp::now()),
            &patch.check().unwrap(),
        )
        .await
        .unwrap();
}

/// A publish deadline ten seconds away, as an invocation with time to spare would have.
pub fn in_ten_seconds() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(10)
}

/// The sequence numbers of stream records, in order.
pub fn sequence_numbers(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}
