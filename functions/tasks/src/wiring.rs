//! What every binary does before it serves: tracing, configuration, the client, the runtime.
//! Dependencies are built once per process (not per request) and live as long as it does.

use std::future::Future;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::store::DynamoTaskStore;
use todo_lambda::cursor::CursorCodec;

/// The tasks table from `TASKS_TABLE`, over a client configured from the environment.
pub async fn store() -> Result<&'static DynamoTaskStore, Error> {
    todo_lambda::init_tracing();
    let table = todo_lambda::config::tasks_table()?;
    let client = todo_lambda::dynamodb::client().await;
    Ok(Box::leak(Box::new(DynamoTaskStore::new(client, table))))
}

/// The cursor signer from `CURSOR_SIGNING_KEY`.
pub fn cursors() -> Result<&'static CursorCodec, Error> {
    let key = todo_lambda::config::cursor_signing_key()?;
    Ok(Box::leak(Box::new(CursorCodec::new(key))))
}

/// Serves HTTP API events with `handler` until the runtime stops the process.
pub async fn serve<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_http::run(service_fn(move |req: Request| {
        let response = handler(req);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}
