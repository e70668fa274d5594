//! Issue #22 item 6: `todo-local` as an operator runs it. Idle, it prints nothing after its
//! banner (schedule runs that found nothing are counted, not printed); a far end that fails
//! shows on the console within a second of failing, and the invocation's failure line has the
//! function's own lines under it; each function's log is a file `todo-local logs` reads.
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
}

/// `todo-local`, run where `scripts/run` runs it: beside template.yaml.
fn todo_local() -> Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-local"));
    command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    Command(command)
}

struct Command(tokio::process::Command);

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
        .address("webhook sink")
        .trim_end_matches("/hook")
        .to_string();
    http.post(format!("{hook}/control?status=503"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let Command(mut token) = todo_local();
    let token = token
        .args(["token", "alice", "--data"])
        .arg(&cloud.data)
        .output()
        .await
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap();
    let at = (Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let created = http
        .post(format!("{}/tasks", cloud.address("HTTP API")))
        .bearer_auth(token.trim())
        .json(&json!({"title": "call the bank", "reminders": [{"at": at}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

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
            "the webhook never got the reminder"
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
    assert!(block.0.contains("[Failed 1]"), "{block:?}");
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
    let Command(mut logs) = todo_local();
    let logs = logs
        .args(["logs", "WebhookChannelFunction", "--data"])
        .arg(&cloud.data)
        .output()
        .await
        .unwrap();
    assert!(logs.status.success());
    let text = String::from_utf8(logs.stdout).unwrap();
    assert!(
        text.contains("send failed") && text.contains("REPORT RequestId:"),
        "{text}"
    );
    let Command(mut unknown) = todo_local();
    let unknown = unknown
        .args(["logs", "NoSuchFunction", "--data"])
        .arg(&cloud.data)
        .output()
        .await
        .unwrap();
    assert!(!unknown.status.success());
    let error = String::from_utf8(unknown.stderr).unwrap();
    assert!(
        error.contains("no log for NoSuchFunction") && error.contains("WebhookChannelFunction"),
        "{error}"
    );
}
