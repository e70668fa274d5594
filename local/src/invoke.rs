//! `todo-local invoke FUNCTION -e EVENT`: one function, once, with a sample event, as `sam local
//! invoke` runs it, without Docker. The real binary (the workspace's, or with `--packaged` what
//! `sam build` packaged) runs with the environment the template gives it, against the local
//! cloud running in the data folder (which leaves each function's environment there, see
//! [`record`]) or, when none runs there, a throwaway one.
//!
//! A custom resource's event names a `ResponseURL` on CloudFormation's S3; the function's answer
//! is sent to a local receiver instead and printed, as CloudFormation would receive it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::artifacts::Artifacts;
use crate::cloud::{CloudConfig, LocalCloud};
use crate::custom_resources::ResponseEndpoint;
use crate::runtime::{FunctionHost, FunctionSpec, Invocation, Outcome, RESPONSE_LIMIT_BYTES};
use crate::template::Template;

/// How a running cloud starts one of its functions.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    binary: PathBuf,
    env: Vec<(String, String)>,
    timeout_ms: u64,
    log_file: Option<PathBuf>,
}

fn recorded_file(data_dir: &Path, function: &str) -> PathBuf {
    data_dir.join("functions").join(format!("{function}.json"))
}

fn pid_file(data_dir: &Path) -> PathBuf {
    data_dir.join("todo-local.pid")
}

/// Leaves how `spec` is started in the data folder, for `todo-local invoke`.
pub fn record(data_dir: &Path, spec: &FunctionSpec) -> std::io::Result<()> {
    let file = recorded_file(data_dir, &spec.name);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let recorded = Recorded {
        binary: spec.binary.clone(),
        env: spec.env.clone(),
        timeout_ms: spec.timeout.as_millis() as u64,
        log_file: spec.log_file.clone(),
    };
    std::fs::write(file, serde_json::to_vec_pretty(&recorded)?)
}

/// Says this process is the cloud running in `data_dir` (its functions recorded there), before
/// it starts anything there: a second cloud on the same folder would wipe or share its tables,
/// broker and keys.
pub fn mark_running(data_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    // What an earlier run recorded names its endpoints, gone with it.
    match std::fs::remove_dir_all(data_dir.join("functions")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::write(pid_file(data_dir), std::process::id().to_string())
}

/// The pid of the `todo-local` that marked `data_dir`, while it runs (not this process).
pub fn running(data_dir: &Path) -> Option<u32> {
    let pid = std::fs::read_to_string(pid_file(data_dir))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())?;
    // A pid is reused once its process has ended: it must still be todo-local's.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    (pid != std::process::id() && String::from_utf8_lossy(&cmdline).contains("todo-local"))
        .then_some(pid)
}

/// Where `invoke` runs a function.
pub enum Against {
    /// The cloud running in the data folder, as it starts the function.
    Running(FunctionSpec),
    /// A cloud runs there but has not recorded the function yet: it is still starting.
    Starting(u32),
    /// No cloud runs there.
    Nothing,
}

/// `function` as the cloud running in `data_dir` starts it, when one runs there.
pub fn running_function(data_dir: &Path, function: &str) -> Against {
    let Some(pid) = running(data_dir) else {
        return Against::Nothing;
    };
    let recorded = std::fs::read(recorded_file(data_dir, function))
        .ok()
        .and_then(|text| serde_json::from_slice::<Recorded>(&text).ok());
    let Some(recorded) = recorded else {
        return Against::Starting(pid);
    };
    Against::Running(FunctionSpec {
        name: function.to_string(),
        binary: recorded.binary,
        env: recorded.env,
        timeout: Duration::from_millis(recorded.timeout_ms),
        log_file: recorded.log_file,
        watch: None,
    })
}

/// What one invocation gave.
pub struct Invoked {
    /// Where it ran: the running cloud, or a throwaway one.
    pub against: String,
    pub invocation: Invocation,
    /// What a custom resource sent to its `ResponseURL`.
    pub cloudformation_received: Option<Value>,
}

/// The event in `file` (`-`: standard input), refused as Lambda refuses it past 6 MB.
pub fn read_event(file: &Path) -> Result<Value, String> {
    let text = if file == Path::new("-") {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut text).map_err(|e| e.to_string())?;
        text
    } else {
        std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?
    };
    // Lambda refuses a larger synchronous payload before any function runs.
    if text.len() > RESPONSE_LIMIT_BYTES {
        return Err(format!(
            "RequestEntityTooLargeException: the event is {} bytes; Lambda takes at most {RESPONSE_LIMIT_BYTES} for a synchronous invocation",
            text.len()
        ));
    }
    serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a JSON event: {e}", file.display()))
}

/// Invokes `function` of `template` once with `event`: against the cloud running in
/// `data_dir`, else a throwaway cloud started (and stopped) for it. `packaged`: run what
/// `artifacts` names instead of the running cloud's binary.
pub async fn run(
    template: &Template,
    data_dir: &Path,
    function: &str,
    event: Value,
    artifacts: Artifacts,
    packaged: bool,
) -> Result<Invoked, String> {
    let definition = template.function(function)?;
    match running_function(data_dir, function) {
        Against::Starting(pid) => Err(format!(
            "the local cloud in {} (pid {pid}) is still starting: invoke again once it prints its banner",
            data_dir.display()
        )),
        Against::Running(mut spec) => {
            if packaged {
                spec.binary = artifacts.binary(&definition);
            }
            let host = FunctionHost::start(spec).await.map_err(|e| e.to_string())?;
            let mut invoked = invoke(&host, event).await.map_err(|e| e.to_string())?;
            host.stop();
            invoked.against = format!("the local cloud running in {}", data_dir.display());
            Ok(invoked)
        }
        Against::Nothing => {
            let dir =
                std::env::temp_dir().join(format!("todo-local-invoke-{}", uuid::Uuid::new_v4()));
            let config = CloudConfig {
                data_dir: dir.clone(),
                artifacts,
                api_port: 0,
                print_invocations: false,
                verbose: false,
                schedule_every: None,
                concurrency: crate::cloud::DEFAULT_CONCURRENCY,
                enforce_iam: true,
                max_connections: crate::connections::default_max_connections(),
            };
            let cloud = LocalCloud::start(template, &config)
                .await
                .map_err(|e| e.to_string())?;
            let invoked = invoke(&cloud.hosts[function], event).await;
            drop(cloud);
            let _ = std::fs::remove_dir_all(dir);
            let mut invoked = invoked.map_err(|e| e.to_string())?;
            invoked.against = format!(
                "a throwaway cloud (no local cloud runs in {})",
                data_dir.display()
            );
            Ok(invoked)
        }
    }
}

/// Prints what `sam local invoke` prints: where it ran and the function's log between `START`
/// and `REPORT` on `err`, its response (or error) on `out`. True when the invocation succeeded.
pub fn print(
    invoked: &Invoked,
    err: &mut impl std::io::Write,
    out: &mut impl std::io::Write,
) -> std::io::Result<bool> {
    let i = &invoked.invocation;
    writeln!(err, "todo-local: invoked against {}", invoked.against)?;
    writeln!(err, "START RequestId: {} Version: $LATEST", i.request_id)?;
    for line in &i.log {
        writeln!(err, "{line}")?;
    }
    writeln!(err, "END RequestId: {}", i.request_id)?;
    writeln!(
        err,
        "REPORT RequestId: {}\t{}",
        i.request_id,
        crate::function_log::report(i.duration, i.init)
    )?;
    if let Some(received) = &invoked.cloudformation_received {
        writeln!(
            err,
            "CloudFormation received at the ResponseURL: {received}"
        )?;
    }
    match &i.outcome {
        Outcome::Ok(body) => {
            writeln!(out, "{}", String::from_utf8_lossy(body))?;
            Ok(true)
        }
        Outcome::FunctionError(error) => {
            writeln!(out, "{error}")?;
            Ok(false)
        }
        other => {
            let error = serde_json::json!({
                "errorType": "Runtime.Invocation",
                "errorMessage": format!("{other:?}"),
            });
            writeln!(out, "{error}")?;
            Ok(false)
        }
    }
}

/// Invokes `host` once with `event`; a custom resource's answer is received locally.
pub async fn invoke(host: &FunctionHost, mut event: Value) -> std::io::Result<Invoked> {
    let custom_resource = event.get("ResponseURL").is_some() && event.get("RequestType").is_some();
    let mut endpoint = None;
    let mut answer = None;
    if custom_resource {
        let receiver = ResponseEndpoint::start().await?;
        let request_id = event["RequestId"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (url, rx) = receiver.expect(&request_id);
        event["ResponseURL"] = Value::String(url);
        event["RequestId"] = Value::String(request_id);
        endpoint = Some(receiver);
        answer = Some(rx);
    }
    let invocation = host.invoke(serde_json::to_vec(&event)?).await;
    let cloudformation_received = match answer {
        // The function answers before it returns; a short wait covers a slow PUT.
        Some(rx) => tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()
            .and_then(Result::ok),
        None => None,
    };
    drop(endpoint);
    Ok(Invoked {
        against: String::new(),
        invocation,
        cloudformation_received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded function is found only while the cloud that recorded it runs.
    #[test]
    fn a_function_is_invoked_against_a_cloud_only_while_it_runs() {
        let dir = std::env::temp_dir().join(format!("todo-invoke-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = FunctionSpec {
            name: "GetTaskFunction".into(),
            binary: "/bin/tasks-get".into(),
            env: vec![("TASKS_TABLE".into(), "TasksTable".into())],
            timeout: Duration::from_secs(10),
            log_file: Some(dir.join("logs/GetTaskFunction.log")),
            watch: None,
        };
        record(&dir, &spec).unwrap();
        let nothing =
            |dir: &Path| matches!(running_function(dir, "GetTaskFunction"), Against::Nothing);
        assert!(nothing(&dir), "no cloud marked");
        // This test's own process is not todo-local: a pid left by a cloud that ended and
        // taken by another process since is not a running cloud.
        mark_running(&dir).unwrap();
        assert!(nothing(&dir));
        std::fs::write(pid_file(&dir), "not a pid").unwrap();
        assert!(nothing(&dir));
        let _ = std::fs::remove_dir_all(dir);
    }
}
