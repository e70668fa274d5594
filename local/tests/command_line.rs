//! Issue #22 items 6 and 7: `todo-local` as an operator runs it. Idle, it prints nothing after
//! its banner (schedule runs that found nothing are counted, not printed); a far end that fails
//! shows on the console within a second of failing, and the invocation's failure line has the
//! function's own lines under it; each function's log is a file `todo-local logs` reads.
//! `todo-local invoke` runs every sample in `events/` through its function, as `sam local
//! invoke` would, against the running cloud or a throwaway one.
//!
//! Runs the real `todo-local` binary and the function binaries next to it (scripts/test builds
//! them), with tansu from `TANSU_BIN`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

/// The scheduled functions (the sweep and the channels' drains of what they parked).
const SCHEDULED: [&str; 4] = [
    "SweepRemindersFunction",
    "EmailChannelFunction",
    "PushChannelFunction",
    "UserWebhooksChannelFunction",
];

/// Every line printed after the banner, with when it was read.
type Printed = Arc<Mutex<Vec<(DateTime<Utc>, String)>>>;

struct Running {
    child: tokio::process::Child,
    data: PathBuf,
    banner: Vec<String>,
    printed: Printed,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

impl Running {
    /// The address the banner gives for `label` (`HTTP API`, `webhook sink`).
    fn address(&self, label: &str) -> String {
        let line = self
            .banner
            .iter()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in the banner: {:#?}", self.banner));
        line.split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_string()
    }

    fn printed(&self) -> Vec<(DateTime<Utc>, String)> {
        self.printed.lock().unwrap().clone()
    }

    /// Makes the operator's webhook answer 503, then alice creates a task titled `title` with a
    /// reminder a few seconds ahead; returns the webhook sink's address.
    async fn fail_the_webhook_and_remind_alice(&self, title: &str) -> String {
        let http = reqwest::Client::new();
        let hook = self
            .address("webhook sink")
            .trim_end_matches("/hook")
            .to_string();
        http.post(format!("{hook}/control?status=503"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let token = run(&["token", "alice"], &self.data).await.stdout;
        // Far enough ahead to be in the future still when the task is stored on a busy machine.
        let at = (Utc::now() + chrono::Duration::seconds(3))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let created = http
            .post(format!("{}/tasks", self.address("HTTP API")))
            .bearer_auth(token.trim())
            .json(&json!({"title": title, "reminders": [{"at": at}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        hook
    }
}

/// `todo-local`, run where `scripts/run` runs it: beside template.yaml.
fn todo_local() -> Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-local"));
    command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    Command(command)
}

struct Command(tokio::process::Command);

/// What a `todo-local` command run to its end printed.
struct Ran {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `todo-local ARGS --data DATA` to its end.
async fn run(args: &[&str], data: &Path) -> Ran {
    let Command(mut command) = todo_local();
    let output = command
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .await
        .unwrap();
    Ran {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Starts `todo-local` on free ports with a new data folder, the schedule every second, and
/// reads its console until the banner's end.
async fn start(name: &str) -> Running {
    let data = std::env::temp_dir().join(format!("todo-console-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let Command(mut command) = todo_local();
    let mut child = command
        .args(["--port", "0", "--schedule-every", "1", "--data"])
        .arg(&data)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("todo-local starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let read_banner = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let last = line.starts_with("Printed:");
            banner.push(line);
            if last {
                // The blank line that closes it.
                lines.next_line().await.unwrap();
                return;
            }
        }
        panic!("todo-local stopped during start: {banner:#?}");
    };
    tokio::time::timeout(Duration::from_secs(120), read_banner)
        .await
        .expect("todo-local is up within two minutes");
    let printed: Printed = Arc::default();
    let sink = Arc::clone(&printed);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push((Utc::now(), line));
        }
    });
    Running {
        child,
        data,
        banner,
        printed,
    }
}

/// How many invocations a function's log file records.
fn invocations(data: &Path, function: &str) -> usize {
    std::fs::read_to_string(todo_local::function_log::file_of(data, function))
        .map(|log| {
            log.lines()
                .filter(|l| l.contains(" START RequestId: "))
                .count()
        })
        .unwrap_or(0)
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn idle_it_prints_nothing_and_a_failing_far_end_shows_within_a_second() {
    let cloud = start("failing").await;

    // Idle: every schedule runs three times over, and nothing is printed.
    eventually("every schedule's third run", || {
        SCHEDULED
            .iter()
            .all(|f| invocations(&cloud.data, f) >= 3)
            .then_some(())
    })
    .await;
    assert_eq!(
        cloud.printed(),
        [],
        "an idle cloud prints nothing after its banner"
    );
    let log = std::fs::read_to_string(todo_local::function_log::file_of(
        &cloud.data,
        "SweepRemindersFunction",
    ))
    .unwrap();
    for kind in [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "\"Applied\":0",
    ] {
        assert!(log.contains(kind), "the sweep's log has {kind}: {log}");
    }

    // The operator's webhook fails; a reminder falls due.
    let http = reqwest::Client::new();
    let hook = cloud
        .fail_the_webhook_and_remind_alice("call the bank")
        .await;

    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let failed_at = loop {
        let messages: Value = http
            .get(format!("{hook}/messages"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let failed = messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["answered"] == 503);
        if let Some(m) = failed {
            break m["received_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap();
        }
        assert!(
            tokio::time::Instant::now() < until,
            "the webhook never got the reminder: {:#?}",
            cloud.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (seen_at, line) = eventually("the failure on the console", || {
        cloud
            .printed()
            .into_iter()
            .find(|(_, l)| l.contains("WebhookChannelFunction (running): WARN send failed"))
    })
    .await;
    assert!(line.contains("503"), "{line}");
    let delay = seen_at - failed_at;
    assert!(
        delay < chrono::Duration::seconds(1),
        "the failure showed {delay} after the far end failed"
    );

    // When the channel's invocation ends: its failure, the function's lines under it.
    let block = eventually("the invocation's failure line", || {
        let printed = cloud.printed();
        let at = printed
            .iter()
            .position(|(_, l)| l.starts_with("FAILED") && l.contains("WebhookChannelFunction"))?;
        let under: Vec<String> = printed[at + 1..]
            .iter()
            .map(|(_, l)| l.clone())
            .take_while(|l| l.starts_with("        | "))
            .collect();
        under
            .iter()
            .any(|l| l.contains("todo-local logs WebhookChannelFunction"))
            .then(|| (printed[at].1.clone(), under))
    })
    .await;
    assert!(block.0.ends_with("  Failed 1"), "{block:?}");
    assert!(
        block.1.iter().any(|l| l.contains("WARN send failed")),
        "{block:?}"
    );
    // What did something is printed as one line each, with what it did.
    let printed: Vec<String> = cloud.printed().into_iter().map(|(_, l)| l).collect();
    for expected in [
        "CreateTaskFunction",
        "PublisherFunction",
        "InAppChannelFunction",
    ] {
        assert!(
            printed
                .iter()
                .any(|l| l.contains(expected) && !l.starts_with("FAILED")),
            "{expected} in {printed:#?}"
        );
    }
    // No consumer read its partition again once idle (a re-delivery would print).
    assert_eq!(
        printed
            .iter()
            .filter(|l| l.contains("AuditConsumerFunction"))
            .count(),
        1,
        "{printed:#?}"
    );

    // `todo-local logs` prints the same file.
    let logs = run(&["logs", "WebhookChannelFunction"], &cloud.data).await;
    assert!(logs.status.success());
    let text = logs.stdout;
    assert!(
        text.contains("send failed") && text.contains("REPORT RequestId:"),
        "{text}"
    );
    let unknown = run(&["logs", "NoSuchFunction"], &cloud.data).await;
    assert!(!unknown.status.success());
    let error = unknown.stderr;
    assert!(
        error.contains("no function NoSuchFunction") && error.contains("WebhookChannelFunction"),
        "{error}"
    );
    let idle = run(&["logs", "WebhookCreateFunction"], &cloud.data).await;
    let error = idle.stderr;
    assert!(
        !idle.status.success() && error.contains("has not been invoked yet"),
        "{error}"
    );

    // A second cloud on the same data folder is refused: it would wipe the first one's.
    let second = run(&["--port", "0", "--reset"], &cloud.data).await;
    let error = second.stderr;
    assert!(
        !second.status.success() && error.contains("already runs in"),
        "{error}"
    );
    assert!(
        cloud.data.join("logs/WebhookChannelFunction.log").exists(),
        "nothing wiped"
    );
}

/// Each sample of `events/` and the function it is for (`sam local invoke FUNCTION -e FILE`).
const SAMPLES: [(&str, &str); 31] = [
    ("http/admin-audit-search.json", "AuditSearchFunction"),
    ("http/audit-export.json", "AuditExportFunction"),
    ("http/audit-log.json", "AuditListFunction"),
    ("http/complete-task.json", "CompleteTaskFunction"),
    ("http/create-task.json", "CreateTaskFunction"),
    ("http/delete-task.json", "DeleteTaskFunction"),
    ("http/get-task.json", "GetTaskFunction"),
    ("http/list-notifications.json", "NotificationsListFunction"),
    ("http/list-tasks.json", "ListTasksFunction"),
    ("http/read-notification.json", "NotificationsReadFunction"),
    ("http/reopen-task.json", "ReopenTaskFunction"),
    ("http/sync-tasks.json", "TaskChangesFunction"),
    ("http/task-history.json", "AuditHistoryFunction"),
    ("http/update-task.json", "UpdateTaskFunction"),
    ("ws/authorize.json", "RealtimeAuthorizerFunction"),
    ("ws/connect.json", "RealtimeConnectFunction"),
    ("ws/default.json", "RealtimeMessageFunction"),
    ("ws/disconnect.json", "RealtimeDisconnectFunction"),
    ("ws/ping.json", "RealtimeMessageFunction"),
    ("msk/reminders.json", "InAppChannelFunction"),
    ("msk/task-events.json", "AuditConsumerFunction"),
    ("msk/task-events-with-poison.json", "AuditConsumerFunction"),
    ("schedule/every-minute.json", "SweepRemindersFunction"),
    ("schedule/drain-parked.json", "EmailChannelFunction"),
    ("sweep/part.json", "SweepWorkerFunction"),
    ("sns/ses-bounce.json", "EmailFeedbackFunction"),
    ("sns/ses-complaint.json", "EmailFeedbackFunction"),
    ("streams/tasks-table-changes.json", "PublisherFunction"),
    ("topics/create.json", "TopicsFunction"),
    ("topics/update.json", "TopicsFunction"),
    ("topics/delete.json", "TopicsFunction"),
];

/// What is in `events/` but no function's input: AWS's on-failure record of a stream batch,
/// which `todo-admin` reads.
const NOT_INPUTS: [&str; 1] = ["failures/stream-batch-failure.json"];

fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Every JSON file under `dir`, relative to it.
fn samples(dir: &Path, under: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(under).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            samples(dir, &path, found);
        } else if path.extension().is_some_and(|e| e == "json") {
            found.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

struct Invoked {
    ok: bool,
    response: Value,
    log: String,
}

async fn invoke(data: &Path, function: &str, event: &str) -> Invoked {
    let output = run(&["invoke", function, "-e", event], data).await;
    let log = output.stderr;
    let stdout = output.stdout;
    let response = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{function} -e {event}: not JSON ({e}): {stdout}\n{log}"));
    Invoked {
        ok: output.status.success(),
        response,
        log,
    }
}

#[tokio::test]
async fn every_sample_event_runs_through_its_function_with_todo_local_invoke() {
    let mut found = Vec::new();
    let events = workspace().join("events");
    samples(&events, &events, &mut found);
    found.sort();
    let mut listed: Vec<String> = SAMPLES
        .iter()
        .map(|(file, _)| file.to_string())
        .chain(NOT_INPUTS.iter().map(|f| f.to_string()))
        .collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "every sample in events/ is invoked here (or said not to be an input)"
    );

    let cloud = start("invoke").await;
    for (file, function) in SAMPLES {
        let event = format!("events/{file}");
        let invoked = invoke(&cloud.data, function, &event).await;
        let context = format!(
            "{function} -e {event}: {}\n{}",
            invoked.response, invoked.log
        );
        assert!(
            invoked.log.contains("against the local cloud running in")
                && invoked.log.contains("START RequestId:")
                && invoked.log.contains("REPORT RequestId:"),
            "{context}"
        );
        match file {
            // The sample's token is not from the local issuer: refused as API Gateway expects
            // a Lambda authorizer to refuse (the error "Unauthorized", a 401).
            "ws/authorize.json" => {
                assert!(!invoked.ok, "{context}");
                assert_eq!(invoked.response["errorType"], "Unauthorized", "{context}");
            }
            "msk/task-events-with-poison.json" => {
                assert!(invoked.ok, "{context}");
                assert_eq!(
                    invoked.response["batchItemFailures"][0]["itemIdentifier"]["offset"], 42,
                    "{context}"
                );
            }
            // The sample adds partitions, which tansu cannot (it has no CreatePartitions, API
            // 37; MSK has): the function says so to CloudFormation, which fails the update.
            "topics/update.json" => {
                assert!(invoked.ok, "{context}");
                assert!(
                    invoked.log.contains("\"Status\":\"FAILED\"")
                        && invoked.log.contains("no version of API 37"),
                    "{context}"
                );
            }
            topics if topics.starts_with("topics/") => {
                assert!(invoked.ok, "{context}");
                assert!(
                    invoked
                        .log
                        .contains("CloudFormation received at the ResponseURL: ")
                        && invoked.log.contains("\"Status\":\"SUCCESS\""),
                    "{context}"
                );
            }
            _ => {
                assert!(invoked.ok, "{context}");
                if let Some(status) = invoked.response["statusCode"].as_u64() {
                    assert!(status < 500, "{context}");
                }
            }
        }
    }
    let created = invoke(
        &cloud.data,
        "CreateTaskFunction",
        "events/http/create-task.json",
    )
    .await;
    assert_eq!(created.response["statusCode"], 201, "{}", created.response);
    // `-e -`: the event on standard input, as `sam local invoke -e -` takes it.
    let Command(mut piped) = todo_local();
    let mut child = piped
        .args(["invoke", "GetTaskFunction", "-e", "-", "--data"])
        .arg(&cloud.data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut get = serde_json::from_str::<Value>(
        &std::fs::read_to_string(workspace().join("events/http/get-task.json")).unwrap(),
    )
    .unwrap();
    let id = created.response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|task| task["id"].as_str().map(str::to_string))
        .expect("the created task's id");
    get["pathParameters"]["id"] = json!(id);
    get["rawPath"] = json!(format!("/tasks/{id}"));
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(get.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        response["statusCode"],
        200,
        "{response}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    drop(cloud);

    // No cloud in the data folder: a throwaway one.
    let empty = std::env::temp_dir().join(format!("todo-invoke-empty-{}", std::process::id()));
    let alone = invoke(&empty, "GetTaskFunction", "events/http/get-task.json").await;
    assert!(
        alone.ok && alone.log.contains("against a throwaway cloud"),
        "{}",
        alone.log
    );
    assert_eq!(
        alone.response["statusCode"], 404,
        "an empty table: {}",
        alone.response
    );

    // What it cannot run is said, and nothing runs.
    let unknown = run(
        &[
            "invoke",
            "NoSuchFunction",
            "-e",
            "events/http/get-task.json",
        ],
        &empty,
    )
    .await;
    assert!(!unknown.status.success());
    let error = unknown.stderr;
    assert!(
        error.contains("no function NoSuchFunction") && error.contains("GetTaskFunction"),
        "{error}"
    );
    // Past Lambda's 6 MB, refused before anything runs.
    let huge = empty.with_extension("huge.json");
    let padding = "x".repeat(6 * 1024 * 1024);
    std::fs::write(&huge, json!({"body": padding}).to_string()).unwrap();
    let too_large = run(
        &["invoke", "GetTaskFunction", "-e", huge.to_str().unwrap()],
        &empty,
    )
    .await;
    let _ = std::fs::remove_file(&huge);
    assert!(!too_large.status.success());
    assert!(
        too_large
            .stderr
            .contains("RequestEntityTooLargeException: the event is 629"),
        "{}",
        too_large.stderr
    );
    let not_json = run(&["invoke", "GetTaskFunction", "-e", "README.md"], &empty).await;
    assert!(!not_json.status.success());
    let error = not_json.stderr;
    assert!(error.contains("README.md is not a JSON event"), "{error}");
    // An event of another trigger is the function's error, not an empty batch applied.
    let wrong = run(
        &[
            "invoke",
            "InAppChannelFunction",
            "-e",
            "events/http/create-task.json",
        ],
        &empty,
    )
    .await;
    assert!(
        !wrong.status.success() && wrong.stdout.contains("not a Kafka batch: no eventSource"),
        "{} {}",
        wrong.stdout,
        wrong.stderr
    );
    let _ = std::fs::remove_dir_all(empty);
}

/// Headless Chromium (Debian's, installed by scripts/tools), driven over the DevTools protocol.
struct Browser {
    child: tokio::process::Child,
    profile: PathBuf,
    page: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    async fn start() -> Self {
        let profile = std::env::temp_dir().join(format!("todo-chromium-{}", std::process::id()));
        let mut child = tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1400,1000",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium (Debian's package; scripts/tools installs it)");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let browser = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.to_string();
                }
            }
            panic!("chromium exited before listening");
        })
        .await
        .expect("chromium listens within 30 s");
        // Keep reading its stderr so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = browser
            .replacen("ws://", "http://", 1)
            .split("/devtools/")
            .next()
            .unwrap()
            .to_string();
        let targets: Value = reqwest::get(format!("{http}/json/list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let (page, _) = tokio_tungstenite::connect_async(page).await.unwrap();
        Self {
            child,
            profile,
            page,
            next_id: 0,
        }
    }

    /// Calls a DevTools method and returns its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        use futures_util::{SinkExt, StreamExt};
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.page
            .send(tokio_tungstenite::tungstenite::Message::Text(
                message.into(),
            ))
            .await
            .unwrap();
        loop {
            let frame = self
                .page
                .next()
                .await
                .expect("the page's socket is open")
                .unwrap();
            let Ok(text) = frame.to_text() else { continue };
            let Ok(reply) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page.
    async fn until(&mut self, what: &str, expression: &str) {
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.eval(expression).await != Value::Bool(true) {
            let text = self.eval("document.body.innerText").await;
            assert!(
                tokio::time::Instant::now() < until,
                "{what}: the page shows {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// #22 item 3: the console page in a real browser shows a request the moment after it is made,
/// in the pipeline and in the invocations, failures first; the screenshot the README shows is
/// saved as `console.png` in cargo's test folder (`CARGO_TARGET_TMPDIR`).
#[tokio::test]
async fn the_console_page_shows_a_request_as_it_happens_in_a_real_browser() {
    let cloud = start("page").await;
    let api = cloud.address("HTTP API");
    let console = cloud
        .banner
        .iter()
        .find(|l| l.trim_start().starts_with("Console"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .expect("the banner prints the console's address")
        .to_string();
    assert_eq!(console, format!("{api}/_console"));

    let mut browser = Browser::start().await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({"url": console})).await;
    browser
        .until(
            "the page's first reading",
            "document.getElementById('summary').textContent.includes('invocations')",
        )
        .await;
    let created = r#"document.querySelector('[data-function="CreateTaskFunction"]')"#;
    assert_eq!(
        browser.eval(&format!("{created} === null")).await,
        true,
        "nothing created yet"
    );

    // The operator's webhook fails, and alice creates a task with a reminder due now.
    let http = reqwest::Client::new();
    cloud.fail_the_webhook_and_remind_alice("pay rent").await;

    browser
        .until(
            "the request in the pipeline",
            &format!("{created} !== null && {created}.textContent.includes('1 call')"),
        )
        .await;
    browser
        .until(
            "the request in the invocations",
            "document.getElementById('invocations').innerText.includes('POST /tasks')",
        )
        .await;
    browser
        .until(
            "the webhook's failure first, with its reason and a link to its log",
            "(() => { const f = document.getElementById('failures'); \
              return f.innerText.includes('WebhookChannelFunction') && f.innerText.includes('503') \
                && f.querySelector('a[href^=\"/_console/log/WebhookChannelFunction?request=\"]') !== null; })()",
        )
        .await;
    browser
        .until(
            "what the webhook received",
            "document.getElementById('farends').innerText.includes('answered 503')",
        )
        .await;
    // The log link opens that invocation's lines.
    let link: String = serde_json::from_value(
        browser
            .eval("document.querySelector('#failures a').getAttribute('href')")
            .await,
    )
    .unwrap();
    let log = http.get(format!("{api}{link}")).send().await.unwrap();
    assert_eq!(log.status(), 200);
    // What the console does not serve is refused plainly, and a log name is never a path.
    for (method, path, status) in [
        ("POST", "/_console/state", 405),
        ("DELETE", "/_console", 405),
        ("GET", "/_console/nothing", 404),
        ("GET", "/_console/log/NoSuchFunction", 404),
        ("GET", "/_console/log/..%2F..%2Ftodo-local.pid", 404),
        (
            "GET",
            "/_console/log/WebhookChannelFunction?request=no-such-request",
            404,
        ),
    ] {
        let answer = http
            .request(method.parse().unwrap(), format!("{api}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{method} {path}");
        if status == 405 {
            assert_eq!(answer.headers()["allow"], "GET", "{method} {path}");
        }
    }
    let log = log.text().await.unwrap();
    assert!(
        log.starts_with(|c: char| c.is_ascii_digit())
            && log.contains("START RequestId:")
            && log.contains("send failed"),
        "{log}"
    );
    let shot = browser
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console.png");
    std::fs::write(&file, png).unwrap();
    eprintln!("the console page: {}", file.display());
}
