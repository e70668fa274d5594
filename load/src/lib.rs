//! `todo-load`: drives any serverless-todo API (the local cloud or a deployed stack) with many
//! users issuing a mix of every command, then waits for the pipeline to drain and proves that
//! nothing was lost or doubled: every committed change is in its task's audit history exactly
//! once and in commit order, each user's audit total equals their committed changes, and every
//! due reminder reached the inbox exactly once. It reports throughput, per-route latency and
//! the delay from a POST to its audit entry.
//!
//! The library runs inside the fault tests (`tests/tests/faults.rs`); the binary is
//! `scripts/load`.

pub mod capacity;
pub mod client;
pub mod drive;
pub mod ledger;
pub mod report;
pub mod stats;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

pub use crate::drive::DriveConfig;
use crate::drive::User;
use crate::report::Report;

/// A load run: where, who, how much.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub base_url: String,
    /// `(user, bearer token)`; each user's data is checked against only what this run did.
    pub users: Vec<(String, String)>,
    pub drive: DriveConfig,
    /// How long to wait for the pipeline to drain before verifying what has arrived.
    pub drain_timeout: Duration,
}

fn http(config: &LoadConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(config.drive.concurrency.clamp(1, 1_024) * 2)
        .build()
        .expect("an HTTP client")
}

/// Checks, before any load, that the API answers every user's token with a list: a wrong URL
/// or a token the authorizer refuses ends the run at once instead of after the drain timeout.
pub async fn preflight(config: &LoadConfig) -> Result<(), String> {
    let http = http(config);
    for (name, token) in &config.users {
        let user = client::UserClient::new(http.clone(), &config.base_url, name, token);
        let reply = user
            .send(
                reqwest::Method::GET,
                "/tasks?limit=1",
                None,
                Default::default(),
            )
            .await
            .map_err(|e| format!("{}: no answer: {}", config.base_url, e.0))?;
        if reply.status != 200 {
            return Err(format!(
                "GET /tasks as {name} answered {} {}: check the URL and the token command",
                reply.status, reply.body
            ));
        }
    }
    Ok(())
}

/// Drives, drains, verifies.
pub async fn run(config: &LoadConfig) -> Report {
    let http = http(config);
    let users: Arc<Vec<User>> = Arc::new(
        config
            .users
            .iter()
            .map(|(name, token)| User {
                client: client::UserClient::new(http.clone(), &config.base_url, name, token),
                ledger: Mutex::new(Default::default()),
            })
            .collect(),
    );
    let mut drive = drive::drive(Arc::clone(&users), &config.drive).await;
    let verification = verify::verify(&users, config.drain_timeout).await;
    let mut task_owners = std::collections::HashMap::new();
    for user in users.iter() {
        for task in user.ledger.lock().await.tasks.keys() {
            task_owners.insert(task.clone(), user.client.name.clone());
        }
    }
    let mut audit_delays = Vec::new();
    let mut unaudited = 0;
    for probe in std::mem::take(&mut drive.probes) {
        match probe.await.ok().flatten() {
            Some(d) => audit_delays.push(stats::ms(d)),
            None => unaudited += 1,
        }
    }
    Report {
        commands: config.drive.commands,
        users: config.users.len(),
        concurrency: config.drive.concurrency,
        drive,
        verification,
        audit_delays_ms: audit_delays,
        unaudited_probes: unaudited,
        tolerate_faults: config.drive.tolerate_faults,
        task_owners,
    }
}
