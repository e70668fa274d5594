//! `scripts/bench-functions`: every function measured side by side with a reference function,
//! as the local cloud runs them (the real release binaries behind the Lambda Runtime API,
//! against the embedded DynamoDB engine).
//!
//! Per function and round: a cold start (a new process: its init, then its first request),
//! then warm requests; peak RSS (VmHWM) of the process; and the binary's size. Rounds are
//! interleaved round-robin across the functions, so a noisy machine's drift hits all alike, and
//! every figure is printed as a ratio to the reference's, which is what counts.
//!
//! `--dynamodb-latency 5ms` makes every DynamoDB call cost a round trip to DynamoDB in AWS
//! (issue #21: init and first-request times at 5 ms a call).
//!
//! Usage: `bench-functions [--rounds N] [--warm N] [--bin-dir DIR] [--dynamodb-latency 5ms]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use todo_load::stats::{ms, quantile};
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::runtime::{FunctionHost, FunctionSpec, Invocation, Outcome};
use todo_local::testing::apigw::call;
use todo_schema::{Actor, NewTask, TaskId, Timestamp};
use todo_tasks::store::{CreateTask, DynamoTaskStore};

const USER: &str = "user-bench";

struct Subject {
    name: &'static str,
    binary: &'static str,
    event: Value,
}

#[derive(Default)]
struct Samples {
    init: Vec<f64>,
    cold: Vec<f64>,
    warm: Vec<f64>,
    rss_kib: Vec<f64>,
    size: u64,
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn fixture(path: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Args {
    rounds: usize,
    warm: usize,
    bin_dir: PathBuf,
    latency: Option<todo_local::dynamodb::latency::Latency>,
}

fn args() -> Args {
    let mut latency = None;
    let mut rounds = 25;
    let mut warm = 20;
    let mut bin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        bin_dir = PathBuf::from(dir).join("release");
    }
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => rounds = value().parse().expect("--rounds N"),
            "--warm" => warm = value().parse().expect("--warm N"),
            "--bin-dir" => bin_dir = PathBuf::from(value()),
            "--dynamodb-latency" => {
                latency = Some(
                    value()
                        .parse()
                        .expect("--dynamodb-latency 5ms (or 2ms..10ms)"),
                )
            }
            other => panic!("unknown argument {other}"),
        }
    }
    Args {
        rounds,
        warm,
        bin_dir,
        latency,
    }
}

async fn seed(engine: &EmbeddedDynamo) -> TaskId {
    let store = DynamoTaskStore::new(engine.client().await, "TasksTable");
    let actor = Actor::User { id: USER.into() };
    let mut first = None;
    for i in 0..25 {
        let cmd: NewTask = serde_json::from_value(json!({
            "title": format!("Task {i}"), "tags": ["bench"], "priority": "high",
            "due": {"at": "2031-01-01T09:00:00Z", "tz": "Europe/Berlin"},
            "reminders": [{"before_due_minutes": 30}]
        }))
        .expect("a valid task");
        let task = cmd
            .into_task(TaskId::generate(), USER, Timestamp::now())
            .expect("a valid task");
        store
            .create(&task, &actor, None)
            .await
            .expect("the engine takes the seed");
        first.get_or_insert(task.id);
    }
    first.expect("seeded")
}

fn ok(i: &Invocation, name: &str) {
    match &i.outcome {
        Outcome::Ok(body) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let status = v["statusCode"].as_u64().unwrap_or(200);
            assert!(
                status < 300 && v["batchItemFailures"].as_array().is_none_or(Vec::is_empty),
                "{name} answered {v}"
            );
        }
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::main]
async fn main() {
    let Args {
        rounds,
        warm,
        bin_dir,
        latency,
    } = args();
    let engine = EmbeddedDynamo::start_in_memory()
        .await
        .expect("the embedded engine starts");
    let id = seed(&engine).await;
    engine.set_latency(latency);
    if let Some(latency) = latency {
        println!("DynamoDB latency per call: {latency:?}\n");
    }
    let subjects = vec![
        Subject {
            name: "reference",
            binary: "bench-reference",
            event: json!({"pk": format!("USER#{USER}"), "sk": format!("TASK#{id}")}),
        },
        Subject {
            name: "tasks-get",
            binary: "tasks-get",
            event: call("GET", format!("/tasks/{id}")).user(USER).event(),
        },
        Subject {
            name: "tasks-create",
            binary: "tasks-create",
            // Another user: the tasks it creates must not grow the list the others read.
            event: call("POST", "/tasks")
                .user("user-bench-create")
                .json(json!({"title": "Benchmark", "tags": ["bench"], "reminders": [{"at": "2031-01-01T08:00:00Z"}]}))
                .event(),
        },
        Subject {
            name: "tasks-list",
            binary: "tasks-list",
            event: call("GET", "/tasks")
                .user(USER)
                .query("tag", "bench")
                .query("sort", "due")
                .event(),
        },
        Subject {
            name: "audit-consumer",
            binary: "audit-consumer",
            event: fixture("events/msk/task-events.json"),
        },
        Subject {
            name: "channel-in-app",
            binary: "channel-in-app",
            event: fixture("events/msk/reminders.json"),
        },
    ];
    // The cursor signing key is read from Secrets Manager, as the template gives it.
    let secrets = todo_local::secrets::LocalSecrets::start(HashMap::from([(
        "CursorSigningKey".to_string(),
        "bench-cursor-signing-key-0123456789abcdef".to_string(),
    )]))
    .await
    .expect("the local Secrets Manager starts");
    let env = vec![
        ("TASKS_TABLE".to_string(), "TasksTable".to_string()),
        ("AUDIT_TABLE".to_string(), "AuditTable".to_string()),
        ("AUDIT_RETENTION_DAYS".to_string(), "365".to_string()),
        (
            "NOTIFICATIONS_TABLE".to_string(),
            "NotificationsTable".to_string(),
        ),
        (
            "CURSOR_SIGNING_KEY_SECRET_ARN".to_string(),
            secrets.arns()["CursorSigningKey"].clone(),
        ),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_string(),
            secrets.url().to_string(),
        ),
        ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), engine.endpoint()),
        ("AWS_LAMBDA_LOG_LEVEL".to_string(), "WARN".to_string()),
    ];
    let mut hosts: Vec<Arc<FunctionHost>> = Vec::new();
    let mut samples: HashMap<&str, Samples> = HashMap::new();
    for s in &subjects {
        let binary = bin_dir.join(s.binary);
        let size = std::fs::metadata(&binary)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (build with scripts/bench-functions)",
                    binary.display()
                )
            })
            .len();
        samples.entry(s.name).or_default().size = size;
        let spec = FunctionSpec {
            name: s.name.to_string(),
            binary,
            env: env.clone(),
            timeout: Duration::from_secs(10),
            log_file: None,
            watch: None,
        };
        hosts.push(FunctionHost::start(spec).await.expect("a runtime API"));
    }
    for _ in 0..rounds {
        for (s, host) in subjects.iter().zip(&hosts) {
            let payload = s.event.to_string().into_bytes();
            let entry = samples.entry(s.name).or_default();
            host.kill().await;
            let cold = host.invoke(payload.clone()).await;
            ok(&cold, s.name);
            entry.init.push(ms(cold.init.expect("a cold start")));
            entry.cold.push(ms(cold.duration));
            for _ in 0..warm {
                let w = host.invoke(payload.clone()).await;
                ok(&w, s.name);
                entry.warm.push(ms(w.duration));
            }
            if let Some(rss) = host.pid().and_then(peak_rss_kib) {
                entry.rss_kib.push(rss);
            }
        }
    }
    for host in &hosts {
        host.kill().await;
    }
    report(&subjects, &samples, rounds, warm);
}

fn report(subjects: &[Subject], samples: &HashMap<&str, Samples>, rounds: usize, warm: usize) {
    let r = &samples["reference"];
    let (r_init, r_cold, r_rss) = (
        quantile(&r.init, 0.5),
        quantile(&r.cold, 0.5),
        quantile(&r.rss_kib, 0.5),
    );
    let (r_p50, r_p99) = (quantile(&r.warm, 0.5), quantile(&r.warm, 0.99));
    println!(
        "{rounds} cold starts and {} warm requests per function, interleaved; medians, ratios to the reference\n",
        rounds * warm
    );
    println!(
        "| function | init | cold request | warm p50 / p99 | warm p99 over reference | peak RSS | binary |"
    );
    println!("|---|---|---|---|---|---|---|");
    for s in subjects {
        let x = &samples[s.name];
        let (init, cold, rss) = (
            quantile(&x.init, 0.5),
            quantile(&x.cold, 0.5),
            quantile(&x.rss_kib, 0.5),
        );
        let (p50, p99) = (quantile(&x.warm, 0.5), quantile(&x.warm, 0.99));
        println!(
            "| {} | {:.2}x ({:.1} ms) | {:.2}x ({:.2} ms) | {:.2} / {:.2} ms | {:+.2} ms | {:.2}x ({:.1} MiB) | {:.2}x ({:.1} MiB) |",
            s.name,
            init / r_init,
            init,
            cold / r_cold,
            cold,
            p50,
            p99,
            p99 - r_p99,
            rss / r_rss,
            rss / 1024.0,
            x.size as f64 / r.size as f64,
            x.size as f64 / (1024.0 * 1024.0),
        );
    }
    println!("\nreference warm p50 / p99: {r_p50:.2} / {r_p99:.2} ms");
}
