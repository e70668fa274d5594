//! What every tasks binary does before it serves (see `todo_lambda::wiring`).

use todo_lambda::config::ConfigError;

use crate::store::DynamoTaskStore;
use crate::sweep::fanout::Fanout;
use crate::sweep::invoke::LambdaWorkers;

/// The tasks table from `TASKS_TABLE`.
pub async fn store() -> Result<DynamoTaskStore, ConfigError> {
    todo_lambda::wiring::table_store("TASKS_TABLE", DynamoTaskStore::new).await
}

/// The reminder sweep's workers: the function from `SWEEP_WORKER_FUNCTION`, at most
/// `SWEEP_WORKERS` of them, called for more than `SWEEP_ALONE_UP_TO` reminders.
pub async fn sweep_workers() -> Result<(LambdaWorkers, Fanout), ConfigError> {
    let (workers, function) = todo_lambda::config::sweep_workers()?;
    let fanout = Fanout {
        workers,
        alone_up_to: todo_lambda::config::sweep_alone_up_to()?,
    };
    let client = aws_sdk_lambda::Client::new(&todo_lambda::aws::sdk_config().await);
    Ok((
        LambdaWorkers::new(client, function.unwrap_or_default()),
        fanout,
    ))
}
