//! Starting the local cloud in-process for end-to-end tests: free ports, a temporary data
//! folder, the workspace's debug binaries.

pub mod socket;

use std::path::PathBuf;

use todo_local::cloud::{CloudConfig, LocalCloud};
use todo_local::template::Template;

/// A temporary data folder, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("todo-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        collect_ledger(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Keeps the run's IAM ledger in `TODO_IAM_LEDGERS` when set (the test command sets it), so
/// `todo-local iam-report --ledgers` judges the grants against every request the suite made.
/// A test that is refused on purpose (a role with a statement removed) runs on a template of
/// its own, whose ledger is not collected: see [`DataDir::refused_on_purpose`].
fn collect_ledger(data: &std::path::Path) {
    let Some(dir) = std::env::var_os("TODO_IAM_LEDGERS") else {
        return;
    };
    if data.join(REFUSED_ON_PURPOSE).exists() {
        return;
    }
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = std::fs::copy(
        data.join("iam/ledger.json"),
        PathBuf::from(dir).join(format!("{name}.json")),
    );
}

const REFUSED_ON_PURPOSE: &str = "refused-on-purpose";

impl DataDir {
    /// This run's refusals are the point of its test: its ledger stays out of the report.
    pub fn refused_on_purpose(&self) {
        let _ = std::fs::create_dir_all(&self.0);
        let _ = std::fs::write(self.0.join(REFUSED_ON_PURPOSE), "");
    }
}

/// The folder holding the function binaries: `TODO_E2E_BIN_DIR` when set (to run these tests
/// against other builds, such as an older commit's, to show a regression test fails there),
/// else the workspace's `target/debug`, next to the test's `deps`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TODO_E2E_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|d| d.parent())
        .map(PathBuf::from)
        .expect("target dir")
}

/// Starts the cloud on a free port over `data`.
pub async fn start(data: &DataDir) -> LocalCloud {
    let template = Template::workspace().expect("template.yaml");
    start_with(&template, data)
        .await
        .expect("the local cloud starts (scripts/test builds the binaries and tansu first)")
}

/// Starts the cloud of `template` (a variant of the workspace's) on a free port over `data`.
pub async fn start_with(
    template: &Template,
    data: &DataDir,
) -> Result<LocalCloud, todo_local::cloud::CloudError> {
    let config = CloudConfig {
        data_dir: data.0.clone(),
        artifacts: todo_local::artifacts::Artifacts::Workspace(bin_dir()),
        api_port: 0,
        print_invocations: false,
        verbose: false,
        schedule_every: Some(std::time::Duration::from_secs(1)),
        concurrency: todo_local::cloud::DEFAULT_CONCURRENCY,
        enforce_iam: true,
        max_connections: todo_local::connections::default_max_connections(),
    };
    LocalCloud::start(template, &config).await
}

/// A user's view of the local cloud's HTTP API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A response, read.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Api {
    /// Calls as `user`, with a token from the cloud's authorizer.
    pub fn new(cloud: &LocalCloud, user: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: cloud.api_url.clone(),
            token: cloud.auth.token(user, 1),
        }
    }

    /// Any request; `token` overrides (or, with `Some("")`, omits) the bearer token.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        token: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        match token.unwrap_or(&self.token) {
            "" => {}
            t => request = request.bearer_auth(t),
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("the local cloud answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Subscribes a device of the local push service with the server's VAPID key, as a
    /// browser would.
    pub async fn subscribe_a_device(&self, cloud: &LocalCloud) {
        let key = self.get("/push/vapid-public-key").await.body["key"].clone();
        let device = cloud.push.subscribe(key.as_str().expect("a VAPID key"));
        let subscribed = self
            .call("POST", "/push-subscriptions", Some(device), None)
            .await;
        assert_eq!(subscribed.status, 201, "{}", subscribed.body);
    }

    /// A request as this user, to shape by hand (headers, raw bodies).
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends a request built with [`Api::request`] and reads the answer.
    pub async fn send(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the local cloud answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The same user against another cloud, keeping the old token (to show it still verifies).
    pub fn with_token_of(mut self, other: &Api) -> Self {
        self.token = other.token.clone();
        self
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Answer {
        self.call("POST", path, Some(body), None).await
    }

    /// Creates a task and returns it.
    pub async fn create(&self, body: serde_json::Value) -> serde_json::Value {
        let answer = self.post("/tasks", body).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body
    }

    /// The items of a list route, once at least `n` are there (waiting up to 40 s).
    pub async fn items_once(&self, path: &str, n: usize) -> Vec<serde_json::Value> {
        eventually(&format!("{n} items at {path}"), || async {
            let page = self.get(path).await.body;
            let items = page["items"].as_array()?.clone();
            (items.len() >= n).then_some(items)
        })
        .await
    }
}

/// Waits until `function` has been refused `action` on `resource`, as the IAM ledger records it.
pub async fn refused(cloud: &LocalCloud, function: &str, action: &str, resource: &str) {
    eventually(
        &format!("{function} refused {action} on {resource}"),
        || async {
            cloud
                .iam
                .ledger()
                .denied
                .iter()
                .any(|d| d.function == function && d.action == action && d.resource == resource)
                .then_some(())
        },
    )
    .await;
}

/// Polls `probe` until it yields, for at most 40 s.
pub async fn eventually<F, Fut, T>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An RFC 3339 instant `seconds` from now.
pub fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// The records of `todo.dead.letter`, once at least `n` are there (waiting up to 40 s).
pub async fn dead_letters(cloud: &LocalCloud, n: usize) -> Vec<rskafka::record::RecordAndOffset> {
    eventually(&format!("{n} records in todo.dead.letter"), || async {
        let records = cloud
            .kafka
            .read_partition("todo.dead.letter", 0)
            .await
            .ok()?;
        (records.len() >= n).then_some(records)
    })
    .await
}

/// Kills a process with SIGKILL, as a crash or the OOM killer would (no clean-up runs).
pub fn kill9(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -9 {pid}");
}

/// A task's id, from its JSON.
pub fn id(task: &serde_json::Value) -> String {
    task["id"].as_str().expect("a task id").to_string()
}
