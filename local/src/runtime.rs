//! The Lambda Runtime API, and one host per function that runs its real binary against it.
//!
//! A function's process is started on its first invocation (a cold start) with the environment
//! the template gives it and `AWS_LAMBDA_RUNTIME_API` pointing at this host. It then asks for
//! work (`GET /2018-06-01/runtime/invocation/next`) and answers each invocation (`.../response`
//! or `.../error`), as on Lambda. An invocation that exceeds the function's timeout, or whose
//! process dies, fails; the process is killed and the next invocation starts a new one.
//!
//! Like Lambda, a function scales out: up to its concurrency limit (the template's
//! `ReservedConcurrentExecutions`, else the cloud's `--concurrency`), each invocation that finds
//! every execution environment busy starts another one (its own process, its own Runtime API,
//! its own cold start); an idle environment is reused, the warmest first. One invocation runs at
//! a time per environment; past the limit an invocation waits for a free one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::process::Child;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::function_log::{FunctionLog, Watch};

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The function's response payload.
    Ok(Vec<u8>),
    /// The function reported an error (its error payload).
    FunctionError(String),
    /// The process died (or could not start) before answering.
    Crashed(String),
    /// No answer within the function's timeout; the process was killed.
    TimedOut,
    /// Every execution environment the function may run was busy: Lambda throttles a
    /// synchronous invocation at once (429 TooManyRequestsException) rather than queue it.
    Throttled,
}

/// What one invocation cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub outcome: Outcome,
    pub duration: Duration,
    /// Set on a cold start: how long the process took to ask for its first invocation.
    pub init: Option<Duration>,
    /// Which execution environment ran it (0, 1, ... in the order they were started).
    pub environment: usize,
    /// Its `lambda-runtime-aws-request-id` (empty when it never reached a process).
    pub request_id: String,
    /// What the function wrote while it ran, line by line (at most
    /// [`function_log::MAX_LINES`](crate::function_log::MAX_LINES); the log file has all).
    pub log: Vec<String>,
}

/// How to run one function.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// The logical id in the template.
    pub name: String,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// The function's log file (`function_log::file_of`): everything it writes, with Lambda's
    /// lines around each invocation. Without one, only each invocation's lines are kept.
    pub log_file: Option<PathBuf>,
    /// Told each line the function writes, as it is written (the console).
    pub watch: Option<Watch>,
}

struct Pending {
    id: String,
    payload: Vec<u8>,
    deadline_ms: u128,
}

#[derive(Default)]
struct Shared {
    /// Invocations handed to the process and not yet answered.
    in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    /// Set when the process asks for work for the first time after a start.
    ready: Option<oneshot::Sender<()>>,
}

#[derive(Clone)]
struct ApiState {
    work: Arc<Mutex<mpsc::Receiver<Pending>>>,
    shared: Arc<std::sync::Mutex<Shared>>,
    function_arn: String,
}

/// A function's execution environments (see the module docs).
pub struct FunctionHost {
    spec: FunctionSpec,
    /// How many environments may run at once.
    max: usize,
    slots: tokio::sync::Semaphore,
    environments: Mutex<Vec<Arc<Environment>>>,
    /// Environments not running an invocation, the most recently used last.
    idle: std::sync::Mutex<Vec<usize>>,
    /// The pid of the process last started in any environment (0 before the first).
    last_pid: Arc<AtomicU32>,
    /// Fault injection: invocations are cut (timed out) after this many ms; 0 = never.
    cut_after_ms: Arc<AtomicU64>,
    /// Invocations run so far (throttled ones not counted).
    invocations: AtomicU64,
}

/// One execution environment: a Runtime API and the process that polls it.
struct Environment {
    spec: FunctionSpec,
    api: String,
    work: mpsc::Sender<Pending>,
    shared: Arc<std::sync::Mutex<Shared>>,
    process: Mutex<Option<Child>>,
    /// The running process's output.
    output: std::sync::Mutex<Option<Arc<FunctionLog>>>,
    last_pid: Arc<AtomicU32>,
    cut_after_ms: Arc<AtomicU64>,
}

fn lock(shared: &std::sync::Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FunctionHost {
    /// A function with one execution environment; no process runs yet.
    pub async fn start(spec: FunctionSpec) -> std::io::Result<Arc<Self>> {
        Ok(Self::with_environments(spec, 1))
    }

    /// A function that scales out to `max` execution environments; none runs yet.
    pub fn with_environments(spec: FunctionSpec, max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            spec,
            max,
            slots: tokio::sync::Semaphore::new(max),
            environments: Mutex::new(Vec::new()),
            idle: std::sync::Mutex::new(Vec::new()),
            last_pid: Arc::new(AtomicU32::new(0)),
            cut_after_ms: Arc::new(AtomicU64::new(0)),
            invocations: AtomicU64::new(0),
        })
    }

    /// How many invocations have run (throttled ones aside), as Lambda's `Invocations`
    /// metric counts them.
    pub fn invocations(&self) -> u64 {
        self.invocations.load(Ordering::SeqCst)
    }

    /// The function's logical id.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// How many execution environments the function may run at once.
    pub fn concurrency(&self) -> usize {
        self.max
    }

    /// How many execution environments it has started so far.
    pub async fn environments(&self) -> usize {
        self.environments.lock().await.len()
    }

    /// The id of the process last started, if any (it may have exited since).
    pub fn pid(&self) -> Option<u32> {
        Some(self.last_pid.load(Ordering::SeqCst)).filter(|p| *p != 0)
    }

    /// Fault injection: from now on every invocation that runs longer than `after` is cut off
    /// as a timeout (its process killed, the outcome `TimedOut`) although the function was
    /// told its full deadline, as when a handler hangs on a dependency past its timeout;
    /// `None` restores the function's own timeout.
    pub fn cut_invocations_after(&self, after: Option<Duration>) {
        let ms = after.map_or(0, |d| d.as_millis().max(1) as u64);
        self.cut_after_ms.store(ms, Ordering::SeqCst);
    }

    /// Kills every environment's process and waits for them to end: every next invocation is a
    /// cold start.
    pub async fn kill(&self) {
        for env in self.environments.lock().await.iter() {
            env.kill().await;
        }
    }

    /// Kills the processes that no invocation holds.
    pub fn stop(&self) {
        if let Ok(envs) = self.environments.try_lock() {
            for env in envs.iter() {
                env.stop();
            }
        }
    }

    /// Runs one invocation to its end, in an idle environment or a new one, waiting for one to
    /// come free when all are busy: how the event-source mappings and the schedule invoke (the
    /// service retries a throttled poll).
    pub async fn invoke(&self, payload: Vec<u8>) -> Invocation {
        match self.slots.acquire().await {
            Ok(permit) => self.run(permit, payload).await,
            Err(_) => throttled(),
        }
    }

    /// Runs one synchronous invocation (the HTTP API's), or throttles it at once when every
    /// environment the function may run is busy, as Lambda does.
    pub async fn invoke_or_throttle(&self, payload: Vec<u8>) -> Invocation {
        match self.slots.try_acquire() {
            Ok(permit) => self.run(permit, payload).await,
            Err(_) => throttled(),
        }
    }

    async fn run(&self, _permit: tokio::sync::SemaphorePermit<'_>, payload: Vec<u8>) -> Invocation {
        self.invocations.fetch_add(1, Ordering::SeqCst);
        let reuse = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let (index, env) = match reuse {
            Some(i) => (i, Arc::clone(&self.environments.lock().await[i])),
            None => match Environment::start(
                self.spec.clone(),
                Arc::clone(&self.last_pid),
                Arc::clone(&self.cut_after_ms),
            )
            .await
            {
                Ok(env) => {
                    let mut envs = self.environments.lock().await;
                    envs.push(Arc::clone(&env));
                    (envs.len() - 1, env)
                }
                Err(e) => {
                    return Invocation {
                        outcome: Outcome::Crashed(format!("no runtime API: {e}")),
                        duration: Duration::ZERO,
                        init: None,
                        environment: 0,
                        request_id: String::new(),
                        log: Vec::new(),
                    };
                }
            },
        };
        let mut invocation = env.invoke(payload).await;
        invocation.environment = index;
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(index);
        invocation
    }
}

fn throttled() -> Invocation {
    Invocation {
        outcome: Outcome::Throttled,
        duration: Duration::ZERO,
        init: None,
        environment: 0,
        request_id: String::new(),
        log: Vec::new(),
    }
}

impl Environment {
    /// Serves a Runtime API for `spec` on a free loopback port; no process runs yet.
    async fn start(
        spec: FunctionSpec,
        last_pid: Arc<AtomicU32>,
        cut_after_ms: Arc<AtomicU64>,
    ) -> std::io::Result<Arc<Self>> {
        let (tx, rx) = mpsc::channel(1);
        let shared = Arc::new(std::sync::Mutex::new(Shared::default()));
        let state = ApiState {
            work: Arc::new(Mutex::new(rx)),
            shared: Arc::clone(&shared),
            function_arn: format!(
                "arn:aws:lambda:us-east-1:000000000000:function:{}",
                spec.name
            ),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // The size is checked by `respond`, as Lambda checks it, not refused unread.
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?.to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Arc::new(Self {
            spec,
            api,
            work: tx,
            shared,
            process: Mutex::new(None),
            output: std::sync::Mutex::new(None),
            last_pid,
            cut_after_ms,
        }))
    }

    /// The function's timeout, or the fault-injected cut when one is set.
    fn time_limit(&self) -> Duration {
        match self.cut_after_ms.load(Ordering::SeqCst) {
            0 => self.spec.timeout,
            ms => Duration::from_millis(ms).min(self.spec.timeout),
        }
    }

    /// Kills the process and waits for it to end, so the next invocation is a cold start.
    async fn kill(&self) {
        if let Some(mut child) = self.process.lock().await.take() {
            let _ = child.kill().await;
        }
    }

    /// Kills the process, if one runs and no invocation holds it.
    fn stop(&self) {
        if let Ok(mut process) = self.process.try_lock()
            && let Some(child) = process.as_mut()
        {
            let _ = child.start_kill();
        }
    }

    /// Runs one invocation to its end.
    async fn invoke(&self, payload: Vec<u8>) -> Invocation {
        let started = Instant::now();
        let id = uuid::Uuid::new_v4().to_string();
        let mut process = self.process.lock().await;
        let mut init = None;
        let running = match process.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        };
        if !running {
            match self.spawn(&id).await {
                Ok((child, took)) => {
                    *process = Some(child);
                    init = Some(took);
                }
                Err(reason) => {
                    *process = None;
                    let duration = started.elapsed();
                    let outcome = Outcome::Crashed(reason);
                    return Invocation {
                        log: self.end_log(&id, duration, None, &outcome),
                        outcome,
                        duration,
                        init: None,
                        environment: 0,
                        request_id: id,
                    };
                }
            }
        } else if let Some(output) = self.output() {
            output.begin(&id);
        }
        let invoked = Instant::now();
        let (reply, answer) = oneshot::channel();
        lock(&self.shared).in_flight.insert(id.clone(), reply);
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d + self.spec.timeout).as_millis())
            .unwrap_or_default();
        let _ = self
            .work
            .send(Pending {
                id: id.clone(),
                payload,
                deadline_ms,
            })
            .await;
        let outcome = tokio::select! {
            answered = answer => answered.unwrap_or(Outcome::Crashed("the runtime dropped the invocation".into())),
            exit = wait_exit(process.as_mut()) => Outcome::Crashed(format!("the process exited ({exit})")),
            _ = tokio::time::sleep(self.time_limit()) => Outcome::TimedOut,
        };
        lock(&self.shared).in_flight.remove(&id);
        if matches!(outcome, Outcome::TimedOut | Outcome::Crashed(_))
            && let Some(mut child) = process.take()
        {
            let _ = child.kill().await;
        }
        let duration = invoked.elapsed();
        Invocation {
            log: self.end_log(&id, duration, init, &outcome),
            outcome,
            duration,
            init,
            environment: 0,
            request_id: id,
        }
    }

    fn output(&self) -> Option<Arc<FunctionLog>> {
        self.output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The invocation's lines, and Lambda's `END` and `REPORT` lines in the file.
    fn end_log(
        &self,
        id: &str,
        duration: Duration,
        init: Option<Duration>,
        outcome: &Outcome,
    ) -> Vec<String> {
        let Some(output) = self.output() else {
            return Vec::new();
        };
        // What Lambda itself logs when the runtime dies or runs out of time (the function
        // cannot say it).
        let platform = match outcome {
            Outcome::Crashed(reason) => Some(format!(
                "RequestId: {id} Error: Runtime exited: {reason}\nRuntime.ExitError"
            )),
            Outcome::TimedOut => Some(format!(
                "RequestId: {id} Task timed out after {:.2} seconds",
                self.time_limit().as_secs_f64()
            )),
            _ => None,
        };
        output.end(
            id,
            &crate::function_log::report(duration, init),
            platform.as_deref(),
        )
    }

    /// Starts the process, its output read into a new log whose first invocation is `id`,
    /// and waits until it asks for that invocation.
    async fn spawn(&self, id: &str) -> Result<(Child, Duration), String> {
        let started = Instant::now();
        let (output, write_end) = FunctionLog::open(
            self.spec.log_file.as_deref(),
            &self.spec.name,
            self.spec.watch.clone(),
        )
        .map_err(|e| format!("cannot open the function's log: {e}"))?;
        output.begin(id);
        *self
            .output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(output);
        let stderr = write_end
            .try_clone()
            .map_err(|e| format!("cannot open the function's log: {e}"))?;
        let (ready_tx, ready_rx) = oneshot::channel();
        lock(&self.shared).ready = Some(ready_tx);
        let mut command = crate::artifacts::command_for(&self.spec.binary);
        command
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| k == "PATH" || k == "HOME"))
            // The operator's credentials unless the spec gives the function its own (the
            // local cloud always does, so its requests are checked against its role).
            .env("AWS_ACCESS_KEY_ID", crate::iam::OPERATOR_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", crate::iam::OPERATOR_ACCESS_KEY)
            .envs(self.spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", &self.api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.spec.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        crate::process::die_with_parent(&mut command);
        command
            .stdout(Stdio::from(write_end))
            .stderr(Stdio::from(stderr));
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.spec.binary.display()))?;
        // The pipe's write ends are the process's alone now: it ends when the process does.
        drop(command);
        self.last_pid
            .store(child.id().unwrap_or(0), Ordering::SeqCst);
        tokio::select! {
            _ = ready_rx => Ok((child, started.elapsed())),
            exit = child.wait() => Err(format!("the process exited during init ({})", exit.map(|s| s.to_string()).unwrap_or_default())),
            _ = tokio::time::sleep(self.spec.timeout) => {
                let _ = child.kill().await;
                Err("init exceeded the function timeout".into())
            }
        }
    }
}

async fn wait_exit(child: Option<&mut Child>) -> String {
    match child {
        Some(c) => c.wait().await.map(|s| s.to_string()).unwrap_or_default(),
        None => std::future::pending().await,
    }
}

async fn next(State(state): State<ApiState>) -> Response {
    if let Some(ready) = lock(&state.shared).ready.take() {
        let _ = ready.send(());
    }
    // An invocation that failed while queued (its process died) is no longer in flight: skip it.
    let p = loop {
        let Some(p) = state.work.lock().await.recv().await else {
            return StatusCode::GONE.into_response();
        };
        if lock(&state.shared).in_flight.contains_key(&p.id) {
            break p;
        }
    };
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", p.id);
    put("lambda-runtime-deadline-ms", p.deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        state.function_arn.clone(),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    );
    (StatusCode::OK, headers, p.payload).into_response()
}

/// Lambda's limit on a synchronous invocation's response payload (6 MB, its quotas page).
pub const RESPONSE_LIMIT_BYTES: usize = 6 * 1024 * 1024;

/// A response: the invocation's result, or, past [`RESPONSE_LIMIT_BYTES`], the error Lambda
/// makes of it (`Function.ResponseSizeTooLarge`; the Runtime API answers 413).
async fn respond(State(state): State<ApiState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    match lock(&state.shared).in_flight.remove(&id) {
        Some(reply) if body.len() > RESPONSE_LIMIT_BYTES => {
            let error = serde_json::json!({
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": format!(
                    "Response payload size ({} bytes) exceeded maximum allowed payload size ({RESPONSE_LIMIT_BYTES} bytes).",
                    body.len()
                ),
            });
            let _ = reply.send(Outcome::FunctionError(error.to_string()));
            StatusCode::PAYLOAD_TOO_LARGE
        }
        Some(reply) => {
            let _ = reply.send(Outcome::Ok(body.to_vec()));
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn fail(State(state): State<ApiState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    match lock(&state.shared).in_flight.remove(&id) {
        Some(reply) => {
            let _ = reply.send(Outcome::FunctionError(
                String::from_utf8_lossy(&body).into_owned(),
            ));
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn init_error(body: Bytes) -> StatusCode {
    tracing::warn!(error = %String::from_utf8_lossy(&body), "function init failed");
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace's debug binaries sit next to the test's `deps` folder.
    pub(crate) fn binary(name: &str) -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(|d| d.parent()).unwrap();
        let path = dir.join(name);
        assert!(
            path.exists(),
            "{} is missing: build the function binaries first (scripts/test does)",
            path.display()
        );
        path
    }

    async fn get_task_host(env: Vec<(String, String)>, timeout: Duration) -> Arc<FunctionHost> {
        FunctionHost::start(FunctionSpec {
            name: "GetTaskFunction".into(),
            binary: binary("tasks-get"),
            env,
            timeout,
            log_file: None,
            watch: None,
        })
        .await
        .unwrap()
    }

    fn get_event() -> Vec<u8> {
        crate::testing::apigw::call("GET", "/tasks/0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e")
            .event()
            .to_string()
            .into_bytes()
    }

    #[tokio::test]
    async fn runs_a_real_function_binary_cold_then_warm() {
        let dynamo = crate::dynamodb::EmbeddedDynamo::start_in_memory()
            .await
            .unwrap();
        let env = vec![
            ("TASKS_TABLE".to_string(), "TasksTable".to_string()),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), dynamo.endpoint()),
        ];
        let host = get_task_host(env, Duration::from_secs(10)).await;
        let cold = host.invoke(get_event()).await;
        assert!(
            cold.init.is_some(),
            "the first invocation starts the process"
        );
        let Outcome::Ok(body) = cold.outcome else {
            panic!("{:?}", cold.outcome)
        };
        let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(response["statusCode"], 404, "{response}");
        let warm = host.invoke(get_event()).await;
        assert!(warm.init.is_none(), "the second one reuses it");
        assert!(matches!(warm.outcome, Outcome::Ok(_)));
    }

    #[tokio::test]
    async fn a_function_that_cannot_start_fails_the_invocation_and_a_slow_one_times_out() {
        // No TASKS_TABLE: the binary exits during init, as a misconfigured Lambda does.
        let host = get_task_host(Vec::new(), Duration::from_secs(10)).await;
        let failed = host.invoke(get_event()).await;
        assert!(
            matches!(failed.outcome, Outcome::Crashed(_)),
            "{:?}",
            failed.outcome
        );
        // What it wrote while it failed to start is the invocation's, for the console to show.
        assert!(
            failed.log.iter().any(|l| l.contains("TASKS_TABLE")),
            "{:?}",
            failed.log
        );

        // A DynamoDB endpoint that accepts connections and never answers: the invocation times out.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", silent.local_addr().unwrap());
        let env = vec![
            ("TASKS_TABLE".to_string(), "TasksTable".to_string()),
            ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), endpoint),
        ];
        let host = get_task_host(env.clone(), Duration::from_millis(1500)).await;
        let slow = host.invoke(get_event()).await;
        assert_eq!(slow.outcome, Outcome::TimedOut);

        // Two environments, both held by slow invocations: a third synchronous invocation is
        // throttled at once; an event-source mapping's waits for one to come free.
        let host = FunctionHost::with_environments(
            FunctionSpec {
                name: "GetTaskFunction".into(),
                binary: binary("tasks-get"),
                env,
                timeout: Duration::from_millis(1500),
                log_file: None,
                watch: None,
            },
            2,
        );
        let (a, b) = (Arc::clone(&host), Arc::clone(&host));
        let first = tokio::spawn(async move { a.invoke(get_event()).await });
        let second = tokio::spawn(async move { b.invoke(get_event()).await });
        tokio::time::timeout(Duration::from_secs(5), async {
            while host.environments().await < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("both environments start");
        let third = host.invoke_or_throttle(get_event()).await;
        assert_eq!(third.outcome, Outcome::Throttled);
        let environments: Vec<usize> = [first.await.unwrap(), second.await.unwrap()]
            .iter()
            .map(|i| i.environment)
            .collect();
        assert_eq!(
            {
                let mut e = environments.clone();
                e.sort_unstable();
                e
            },
            [0, 1],
            "two processes, one invocation each"
        );
        drop(silent);
    }
}
