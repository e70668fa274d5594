//! The embedded DynamoDB-compatible engine (dynoxide), served over the real DynamoDB HTTP API on
//! 127.0.0.1 so the functions talk to it through the AWS SDK exactly as they do in AWS.
//!
//! The engine listens on a port of its own; the endpoint the functions are given is a front
//! that checks each call against the caller's IAM role (once the cloud has set one, see
//! [`crate::iam`]) and passes what is allowed to the engine unchanged.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use dynoxide::Database;
use tokio::sync::oneshot;

use crate::iam::Gate;
use crate::template::{Template, TemplateError};

use front::Front;

pub mod accounting;
pub mod capacity;
mod engine;
mod front;
pub mod latency;
pub mod metering;
pub mod report;

use accounting::PartitionLimits;
use capacity::TableSchema;
use latency::Latency;
use metering::Schemas;
use report::CapacityReport;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("dynoxide: {0}")]
    Engine(String),
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[from] std::io::Error),
}

/// A running engine; it stops when dropped.
pub struct EmbeddedDynamo {
    /// The front's address: the endpoint.
    addr: SocketAddr,
    db: Database,
    /// The engine's own server, behind the front.
    engine: Option<oneshot::Sender<()>>,
    front: Front,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl EmbeddedDynamo {
    /// An in-memory engine with every table of the workspace template, on a free port.
    pub async fn start_in_memory() -> Result<Self, DynamoError> {
        let db = engine::open(&engine::memory_path())?;
        Self::serve(db, &Template::workspace()?).await
    }

    /// A file-backed engine under `dir` (data survives restarts) with the template's tables.
    pub async fn open(dir: &std::path::Path, template: &Template) -> Result<Self, DynamoError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("dynamodb.sqlite");
        let db = engine::open(&path.to_string_lossy())?;
        Self::serve(db, template).await
    }

    /// Creates the template's tables in `db` (keeping those that exist) and serves it on a free
    /// loopback port.
    pub async fn serve(db: Database, template: &Template) -> Result<Self, DynamoError> {
        let schemas = template
            .tables()
            .iter()
            .filter_map(|t| {
                let schema = TableSchema::from_json(&t.logical_id, &t.properties)?;
                Some((t.logical_id.clone(), schema))
            })
            .collect();
        let existing = db
            .list_tables(Default::default())
            .map(|r| r.table_names)
            .unwrap_or_default();
        for table in template.tables() {
            if !existing.contains(&table.logical_id) {
                engine::create_table(&db, &table)?;
            }
        }
        let engine_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let engine_url = format!("http://{}", engine_listener.local_addr()?);
        let (engine_stop, engine_stopped) = oneshot::channel::<()>();
        let served = db.clone();
        tokio::spawn(async move {
            let _ = dynoxide::server::serve_with_shutdown(engine_listener, served, async {
                let _ = engine_stopped.await;
            })
            .await;
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut engine = Self {
            addr: listener.local_addr()?,
            db: db.clone(),
            engine: Some(engine_stop),
            front: Front {
                engine_url,
                client: reqwest::Client::new(),
                gate: Gate::default(),
                db: db.clone(),
                schemas: Arc::new(Schemas(schemas)),
                ledger: Arc::default(),
                items: Arc::default(),
                settings: Arc::default(),
            },
            stop: None,
            server: None,
        };
        engine.listen(listener);
        Ok(engine)
    }

    fn listen(&mut self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .route("/_capacity", axum::routing::get(front::capacity))
            .fallback(front::front)
            // DynamoDB accepts request bodies up to 16 MB.
            .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(self.front.clone());
        self.stop = Some(stop);
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        }));
    }

    /// Who may call the endpoint: from now on each call is checked against the caller's role.
    pub fn gate(&self) -> &Gate {
        &self.front.gate
    }

    /// Fault injection: the endpoint stops answering (connections are refused, in-flight
    /// requests finish), as during a DynamoDB outage; the data stays. See [`Self::resume`].
    pub async fn pause(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Serves the same data on the same endpoint again after [`Self::pause`].
    pub async fn resume(&mut self) -> Result<(), DynamoError> {
        if self.server.is_none() {
            let listener = tokio::net::TcpListener::bind(self.addr).await?;
            self.listen(listener);
        }
        Ok(())
    }

    /// Adds `latency` before every call from now on (`None`: none), as `--dynamodb-latency`.
    pub fn set_latency(&self, latency: Option<Latency>) {
        *lock(&self.front.settings.latency) = latency;
    }

    /// Throttles each partition key past `limits` a second from now on, as
    /// `--dynamodb-partition-limits` (`None`, the default here: never, so a test's fast
    /// seeding is not slowed by retries; `todo-local` starts with AWS's limits).
    pub fn set_partition_limits(&self, limits: Option<PartitionLimits>) {
        *lock(&self.front.settings.limits) = limits;
    }

    /// What every partition key consumed so far, as AWS would have charged it.
    pub fn capacity(&self) -> CapacityReport {
        CapacityReport::of(&self.front.ledger)
    }

    /// Starts the accounting afresh (a benchmark measures from here).
    pub fn reset_capacity(&self) {
        self.front.ledger.reset();
    }

    /// The endpoint URL, as `AWS_ENDPOINT_URL_DYNAMODB` would name it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The engine itself, for direct access (streams, TTL sweeps).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// An SDK client for this engine with dummy credentials.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&sdk_config(&self.endpoint()).await)
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The SDK configuration of a local endpoint (this engine, its Streams API, the local
/// Secrets Manager): `us-east-1`, the operator's credentials (the local account's
/// administrator), that endpoint for every service.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let operator = aws_sdk_dynamodb::config::Credentials::new(
        crate::iam::OPERATOR_ACCESS_KEY,
        crate::iam::OPERATOR_ACCESS_KEY,
        None,
        None,
        "todo-local operator",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(operator)
        .endpoint_url(endpoint)
        .load()
        .await
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stop) = self.engine.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_template_tables_over_the_dynamodb_api() {
        let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
        let client = engine.client().await;
        let table = client
            .describe_table()
            .table_name("TasksTable")
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(table.local_secondary_indexes().len(), 4);
        assert_eq!(table.global_secondary_indexes().len(), 2);
        assert!(table.latest_stream_arn().is_some());
    }
}
