//! The drive phase: `concurrency` workers issue `commands` commands, each for a random user,
//! drawn from a mix of every command of the API. Writes carry `If-Match` (and creates an
//! `Idempotency-Key`), and no two requests touch one task at once, so every answer is exact:
//! a 412, a 404 or any other surprise is a defect, not noise.
//!
//! With `tolerate_faults` (a run with injected faults), a 5xx or a request that got no answer
//! is retried the way a careful client would (same idempotency key, same `If-Match`), and
//! whether the first attempt committed is read back from the task, so the ledger stays exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::client::{Extra, Reply, Transport, UserClient};
use crate::ledger::{ExpectedReminder, Ledger};
use crate::stats::Latencies;

/// What to drive.
#[derive(Debug, Clone)]
pub struct DriveConfig {
    pub commands: usize,
    pub concurrency: usize,
    pub seed: u64,
    /// Reminders fall this many seconds after their create (spread over the next 5 s).
    pub reminder_lead: Duration,
    pub tolerate_faults: bool,
}

/// One user under load.
pub struct User {
    pub client: UserClient,
    pub ledger: Mutex<Ledger>,
}

/// What the drive phase saw.
#[derive(Debug, Default)]
pub struct DriveOutcome {
    pub latencies: Latencies,
    /// `status -> count`, every answer including retried ones.
    pub statuses: std::collections::BTreeMap<u16, usize>,
    pub transport_errors: usize,
    pub retries: usize,
    /// Creates sent twice with one idempotency key whose second answer replayed the first.
    pub replays: usize,
    /// Every answer or outcome the API does not promise, with what was sent.
    pub failures: Vec<String>,
    /// Every tenth command's create is timed from its POST to its entry in the task's audit
    /// history, by a probe polling that history while the load goes on.
    pub probes: Vec<tokio::task::JoinHandle<Option<Duration>>>,
    pub took: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Command {
    Create,
    CreateRecurring,
    CreateWithReminder,
    CreateTwice,
    Get,
    List,
    Audit,
    History,
    Notifications,
    Patch,
    Complete,
    Reopen,
    Delete,
}

/// The mix, in percent: writes dominate, as they drive the pipeline.
const MIX: [(Command, u32); 13] = [
    (Command::Create, 16),
    (Command::CreateRecurring, 5),
    (Command::CreateWithReminder, 5),
    (Command::CreateTwice, 4),
    (Command::Get, 10),
    (Command::List, 8),
    (Command::Audit, 3),
    (Command::History, 2),
    (Command::Notifications, 2),
    (Command::Patch, 20),
    (Command::Complete, 12),
    (Command::Reopen, 5),
    (Command::Delete, 8),
];

const LIST_QUERIES: [&str; 6] = [
    "/tasks",
    "/tasks?status=open&sort=priority&order=desc",
    "/tasks?tag=load&sort=title",
    "/tasks?priority=high,urgent&sort=updated&limit=50",
    "/tasks?q=load&sort=due",
    "/tasks?overdue=false&status=completed",
];

/// A probe for every this-many creates times POST to audit entry.
const PROBE_EVERY: usize = 10;

/// Runs the drive phase over `users`.
pub async fn drive(users: Arc<Vec<User>>, config: &DriveConfig) -> DriveOutcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..config.concurrency.max(1) {
        let users = Arc::clone(&users);
        let next = Arc::clone(&next);
        let config = config.clone();
        workers.push(tokio::spawn(async move {
            let mut worker = Worker {
                rng: fastrand::Rng::with_seed(config.seed.wrapping_add(w as u64)),
                out: DriveOutcome::default(),
                config,
            };
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= worker.config.commands {
                    break;
                }
                let user = &users[worker.rng.usize(..users.len())];
                worker.one(n, user).await;
            }
            worker.out
        }));
    }
    let mut outcome = DriveOutcome::default();
    for w in workers {
        let o = w.await.expect("a load worker never panics");
        outcome.latencies.merge(o.latencies);
        for (s, c) in o.statuses {
            *outcome.statuses.entry(s).or_default() += c;
        }
        outcome.transport_errors += o.transport_errors;
        outcome.retries += o.retries;
        outcome.replays += o.replays;
        outcome.failures.extend(o.failures);
        outcome.probes.extend(o.probes);
    }
    outcome.took = started.elapsed();
    outcome
}

struct Worker {
    rng: fastrand::Rng,
    out: DriveOutcome,
    config: DriveConfig,
}

/// Which task a command works on, taken (marked busy) under the user's lock.
async fn take(
    user: &User,
    rng: &mut fastrand::Rng,
    want: impl Fn(bool) -> bool,
) -> Option<(String, u64)> {
    let mut ledger = user.ledger.lock().await;
    let candidates: Vec<&String> = ledger
        .tasks
        .iter()
        .filter(|(_, t)| t.free() && want(t.completed))
        .map(|(id, _)| id)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let id = candidates[rng.usize(..candidates.len())].clone();
    let t = ledger.tasks.get_mut(&id).expect("a candidate");
    t.busy = true;
    Some((id, t.version))
}

async fn release(user: &User, id: &str) {
    if let Some(t) = user.ledger.lock().await.tasks.get_mut(id) {
        t.busy = false;
    }
}

impl Worker {
    fn pick(&mut self) -> Command {
        let mut roll = self.rng.u32(..100);
        for (command, weight) in MIX {
            if roll < weight {
                return command;
            }
            roll -= weight;
        }
        Command::Get
    }

    async fn one(&mut self, n: usize, user: &User) {
        let command = self.pick();
        let done = match command {
            Command::Create => {
                let body = self.plain_body(n);
                self.create(n, user, body, false).await
            }
            Command::CreateRecurring => {
                let body = json!({
                    "title": format!("load {n} daily"),
                    "tags": ["load", "daily"],
                    "due": {"at": in_seconds(86_400), "tz": "Europe/Berlin"},
                    "recurrence": "FREQ=DAILY;COUNT=3",
                });
                self.create(n, user, body, false).await
            }
            Command::CreateWithReminder => {
                let lead = self.config.reminder_lead + Duration::from_millis(self.rng.u64(..5_000));
                let body = json!({
                    "title": format!("load {n} reminder"),
                    "reminders": [{"at": in_seconds_ms(lead.as_millis() as i64)}],
                });
                self.create(n, user, body, true).await
            }
            Command::CreateTwice => self.create_twice(n, user).await,
            Command::Get => self.read(user).await,
            Command::List => {
                let path = LIST_QUERIES[self.rng.usize(..LIST_QUERIES.len())];
                self.list(user, path, "GET /tasks").await
            }
            Command::Audit => self.list(user, "/audit?limit=20", "GET /audit").await,
            Command::History => self.history(user).await,
            Command::Notifications => self.notifications(user).await,
            Command::Patch => self.change(user, Command::Patch).await,
            Command::Complete => self.change(user, Command::Complete).await,
            Command::Reopen => self.change(user, Command::Reopen).await,
            Command::Delete => self.change(user, Command::Delete).await,
        };
        if !done {
            // Nothing to work on yet (no open task to complete, ...): create instead.
            let body = self.plain_body(n);
            self.create(n, user, body, false).await;
        }
    }

    fn plain_body(&mut self, n: usize) -> Value {
        let priorities = ["low", "medium", "high", "urgent"];
        json!({
            "title": format!("load {n}"),
            "notes": "written by scripts/load",
            "priority": priorities[self.rng.usize(..priorities.len())],
            "tags": ["load"],
            "due": {"at": in_seconds(self.rng.i64(-86_400..86_400 * 30)), "tz": "America/New_York"},
        })
    }

    /// Sends a request; the answer is counted and timed under `label`. With faults tolerated a
    /// 5xx or lost answer is retried up to ten times with backoff.
    async fn send<'e>(
        &mut self,
        user: &User,
        label: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extra: impl Fn() -> Extra<'e>,
    ) -> Result<(Reply, bool), String> {
        let mut retried = false;
        let mut backoff = Duration::from_millis(100);
        for attempt in 0.. {
            let answer = user.client.send(method.clone(), path, body, extra()).await;
            let failed = match &answer {
                Ok(r) => {
                    *self.out.statuses.entry(r.status).or_default() += 1;
                    self.out.latencies.record(label, r.took);
                    r.status >= 500 || r.status == 429
                }
                Err(_) => {
                    self.out.transport_errors += 1;
                    true
                }
            };
            let retryable =
                self.config.tolerate_faults || answer.as_ref().is_ok_and(|r| r.status == 429);
            if !failed || !retryable || attempt == 10 {
                return match answer {
                    Ok(r) => Ok((r, retried)),
                    Err(Transport(e)) => Err(format!("{label} {path}: no answer: {e}")),
                };
            }
            retried = true;
            self.out.retries += 1;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        unreachable!("the loop returns by its tenth attempt")
    }

    /// A GET, as [`Worker::send`] sends it.
    async fn get(&mut self, user: &User, label: &str, path: &str) -> Result<(Reply, bool), String> {
        self.send(user, label, Method::GET, path, None, Extra::default)
            .await
    }

    fn fail(&mut self, what: String) {
        self.out.failures.push(what);
    }

    async fn create(&mut self, n: usize, user: &User, body: Value, frozen: bool) -> bool {
        // Every create carries a key, so a retry after a lost answer creates nothing twice.
        let key = uuid::Uuid::now_v7().to_string();
        self.create_with_key(n, user, &body, frozen, &key).await
    }

    /// A create under `key`: a retry with the same key and body replays what the first
    /// attempt committed instead of creating a second task.
    async fn create_with_key(
        &mut self,
        n: usize,
        user: &User,
        body: &Value,
        frozen: bool,
        key: &str,
    ) -> bool {
        let idem = || Extra {
            idempotency_key: Some(key),
            ..Default::default()
        };
        match self
            .send(
                user,
                "POST /tasks",
                Method::POST,
                "/tasks",
                Some(body),
                idem,
            )
            .await
        {
            Ok((r, _)) if r.status == 201 => {
                let mut ledger = user.ledger.lock().await;
                match ledger.created(&r.body, frozen) {
                    Some(id) => {
                        let reminder = r.body["reminders"][0]["at"]
                            .as_str()
                            .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok());
                        match (frozen, reminder) {
                            (true, Some(at)) => ledger.reminders.push(ExpectedReminder {
                                task_id: id.clone(),
                                at: at.to_utc(),
                            }),
                            (true, None) => self.out.failures.push(format!(
                                "POST /tasks {body}: the reminder is missing from {}",
                                r.body
                            )),
                            _ => {}
                        }
                        if n.is_multiple_of(PROBE_EVERY) {
                            let sent = Instant::now() - r.took;
                            let client = user.client.clone();
                            self.out
                                .probes
                                .push(tokio::spawn(audited_after(client, id, sent)));
                        }
                    }
                    None => self.fail(format!("POST /tasks {body}: 201 without an id: {}", r.body)),
                }
            }
            Ok((r, _)) => self.fail(format!("POST /tasks {body}: {} {}", r.status, r.body)),
            Err(e) => self.fail(e),
        }
        true
    }

    /// A create sent twice with one key: the second must replay the first.
    async fn create_twice(&mut self, n: usize, user: &User) -> bool {
        let body = self.plain_body(n);
        let key = format!("load-twice-{}", uuid::Uuid::now_v7());
        let send = || {
            user.client.send(
                Method::POST,
                "/tasks",
                Some(&body),
                Extra {
                    idempotency_key: Some(&key),
                    ..Default::default()
                },
            )
        };
        let first = send().await;
        let second = send().await;
        match (first, second) {
            (Ok(a), Ok(b)) if a.status == 201 && b.status == 201 => {
                *self.out.statuses.entry(201).or_default() += 2;
                self.out.latencies.record("POST /tasks", a.took);
                self.out.latencies.record("POST /tasks (replay)", b.took);
                if b.replayed && a.body["id"] == b.body["id"] {
                    self.out.replays += 1;
                } else {
                    self.fail(format!(
                        "POST /tasks twice with one Idempotency-Key: the second is not a replay of the first ({} vs {}, replayed {})",
                        a.body["id"], b.body["id"], b.replayed
                    ));
                }
                user.ledger.lock().await.created(&a.body, false);
            }
            (a, b) if self.config.tolerate_faults => {
                // Under faults either may have failed after committing: a third try with the
                // same key and body replays that task (a new key would create a second one,
                // whose audit entry no ledger entry accounts for).
                self.out.retries += 1;
                let _ = (a, b);
                return self.create_with_key(n, user, &body, false, &key).await;
            }
            (a, b) => self.fail(format!(
                "POST /tasks twice with one Idempotency-Key: {:?} / {:?}",
                a.map(|r| (r.status, r.body)),
                b.map(|r| (r.status, r.body))
            )),
        }
        true
    }

    async fn read(&mut self, user: &User) -> bool {
        let Some((id, version)) = take(user, &mut self.rng, |_| true).await else {
            return false;
        };
        let path = format!("/tasks/{id}");
        match self.get(user, "GET /tasks/{id}", &path).await {
            Ok((r, _)) if r.status == 200 && r.body["version"] == version => {}
            Ok((r, _)) => self.fail(format!(
                "GET {path}: expected 200 at version {version}, got {} {}",
                r.status, r.body
            )),
            Err(e) => self.fail(e),
        }
        release(user, &id).await;
        true
    }

    /// A task's audit history: 200, or 404 in the moment before its creation is audited (the
    /// API documents that).
    async fn history(&mut self, user: &User) -> bool {
        let Some((id, _)) = take(user, &mut self.rng, |_| true).await else {
            return false;
        };
        let path = format!("/tasks/{id}/history");
        let label = "GET /tasks/{id}/history";
        match self.get(user, label, &path).await {
            Ok((r, _)) if r.status == 200 && r.body["items"].is_array() => {}
            Ok((r, _)) if r.status == 404 => {}
            Ok((r, _)) => self.fail(format!("GET {path}: {} {}", r.status, r.body)),
            Err(e) => self.fail(e),
        }
        release(user, &id).await;
        true
    }

    /// The unread inbox, and the first unread notification marked read.
    async fn notifications(&mut self, user: &User) -> bool {
        let path = "/notifications?unread=true&limit=5";
        let first = match self.get(user, "GET /notifications", path).await {
            Ok((r, _)) if r.status == 200 && r.body["items"].is_array() => {
                r.body["items"][0]["id"].as_str().map(str::to_string)
            }
            Ok((r, _)) => {
                self.fail(format!("GET {path}: {} {}", r.status, r.body));
                None
            }
            Err(e) => {
                self.fail(e);
                None
            }
        };
        if let Some(id) = first {
            let path = format!("/notifications/{id}/read");
            let label = "POST /notifications/{id}/read";
            match self
                .send(user, label, Method::POST, &path, None, Extra::default)
                .await
            {
                Ok((r, _)) if r.status == 200 && r.body["read_at"].is_string() => {}
                Ok((r, _)) => self.fail(format!("POST {path}: {} {}", r.status, r.body)),
                Err(e) => self.fail(e),
            }
        }
        true
    }

    async fn list(&mut self, user: &User, path: &str, label: &str) -> bool {
        match self.get(user, label, path).await {
            Ok((r, _)) if r.status == 200 && r.body["items"].is_array() => {}
            Ok((r, _)) => self.fail(format!("GET {path}: {} {}", r.status, r.body)),
            Err(e) => self.fail(e),
        }
        true
    }

    async fn change(&mut self, user: &User, command: Command) -> bool {
        let want_completed = matches!(command, Command::Reopen);
        let any = matches!(command, Command::Patch | Command::Delete);
        let Some((id, version)) = take(user, &mut self.rng, |completed| {
            any || completed == want_completed
        })
        .await
        else {
            return false;
        };
        let path = match command {
            Command::Complete => format!("/tasks/{id}/complete"),
            Command::Reopen => format!("/tasks/{id}/reopen"),
            _ => format!("/tasks/{id}"),
        };
        let (label, method, operation, body) = match command {
            Command::Patch => {
                let patches = [
                    json!({"priority": "urgent"}),
                    json!({"title": format!("load renamed {}", self.rng.u32(..1_000_000))}),
                    json!({"tags": ["load", format!("t{}", self.rng.u8(..10))]}),
                    json!({"notes": null}),
                    json!({"due": {"at": in_seconds(3_600), "tz": "Asia/Tokyo"}}),
                ];
                let p = patches[self.rng.usize(..patches.len())].clone();
                ("PATCH /tasks/{id}", Method::PATCH, "task.updated", Some(p))
            }
            Command::Complete => (
                "POST /tasks/{id}/complete",
                Method::POST,
                "task.completed",
                None,
            ),
            Command::Reopen => (
                "POST /tasks/{id}/reopen",
                Method::POST,
                "task.reopened",
                None,
            ),
            _ => ("DELETE /tasks/{id}", Method::DELETE, "task.deleted", None),
        };
        let if_match = move || Extra {
            if_match: Some(version),
            ..Default::default()
        };
        let sent = self
            .send(user, label, method, &path, body.as_ref(), if_match)
            .await;
        let expected = if matches!(command, Command::Delete) {
            204
        } else {
            200
        };
        match sent {
            Ok((r, _)) if r.status == expected => {
                let mut ledger = user.ledger.lock().await;
                if expected == 204 {
                    ledger.deleted(&id);
                } else {
                    ledger.changed(&id, operation, &r.body);
                }
            }
            Ok((r, true)) if r.status == 412 || r.status == 404 => {
                // A retry found the precondition gone: did the first attempt commit?
                self.resolve(user, &id, version, operation).await;
            }
            Ok((r, _)) => self.fail(format!(
                "{label} {path} at version {version}: {} {}",
                r.status, r.body
            )),
            Err(e) => self.fail(e),
        }
        release(user, &id).await;
        true
    }

    /// After a retried write answered 412/404: reads the task to learn whether the first
    /// attempt committed (version moved by one, or the task is gone after a delete).
    async fn resolve(&mut self, user: &User, id: &str, version: u64, operation: &'static str) {
        let path = format!("/tasks/{id}");
        match self.get(user, "GET /tasks/{id}", &path).await {
            Ok((r, _)) if r.status == 404 && operation == "task.deleted" => {
                user.ledger.lock().await.deleted(id);
            }
            Ok((r, _)) if r.status == 200 && r.body["version"] == version + 1 => {
                user.ledger.lock().await.changed(id, operation, &r.body);
            }
            Ok((r, _)) => self.fail(format!(
                "{operation} of {id} at version {version} was retried and then read as {} {}",
                r.status, r.body
            )),
            Err(e) => self.fail(e),
        }
    }
}

/// How long after `sent` the task's first audit entry is readable (None after two minutes).
async fn audited_after(client: UserClient, id: String, sent: Instant) -> Option<Duration> {
    let path = format!("/tasks/{id}/history");
    while sent.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = client
            .send(Method::GET, &path, None, Extra::default())
            .await
            && r.status == 200
            && r.body["items"].as_array().is_some_and(|i| !i.is_empty())
        {
            return Some(sent.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// An RFC 3339 instant `seconds` from now.
pub fn in_seconds(seconds: i64) -> String {
    in_seconds_ms(seconds * 1000)
}

fn in_seconds_ms(ms: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
