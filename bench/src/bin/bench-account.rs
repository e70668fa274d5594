//! `scripts/bench-account`: one user with a large account (default 100,000 tasks and 1,000,000
//! audit entries, seeded straight into the tables), and every read route that user can call
//! (each list filter and sort, search, the first sync, a task's history, audit pages, the export,
//! the administrator's search), each through its real handler with the DynamoDB engine in a
//! child process (this binary with `--engine`) adding a round trip's latency to every call.
//!
//! Prints, per request: its status, the items it answered, the read units it consumed (the
//! engine's accounting, by AWS's rules), its time and the handler's own CPU time (the engine's
//! is in its own process: in AWS, DynamoDB's work costs a function only the round trip). A request is bounded when its read units
//! do not grow with the account: the same request against a small account reads as much.
//!
//! The tables live in a file under `--data DIR` (default: a folder in the system's temporary
//! directory): a million audit entries with their five indexes outgrow memory, and seeding them
//! takes the engine most of an hour. A folder that holds a finished seeding of the same size is
//! measured again without seeding.
//!
//! Usage: `bench-account [--tasks N] [--audit N] [--dynamodb-latency 5ms] [--data DIR]`.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use todo_audit::store::{AppendEntries, AuditStore};
use todo_bench::engine_process::{ENGINE_ARG, Engine, cpu_seconds};
use todo_lambda::admin::AdminPolicy;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::IntoResponse;
use todo_local::dynamodb::latency::Latency;
use todo_local::testing::apigw::{Call, call};
use todo_schema::audit::AuditEntry;
use todo_schema::{Actor, NewTask, Task, TaskId, Timestamp};
use todo_tasks::store::DynamoTaskStore;

/// The account's owner.
const OWNER: &str = "big";
/// Audit entries written in one append (the consumer's batches are of this order).
const APPEND: usize = 250;
/// The span the audit entries are spread over, ending now.
const HISTORY_DAYS: i64 = 60;

/// Task `i`'s body as `POST /tasks` takes it: four priorities, twenty areas, a tag on one task
/// in a thousand, a word in titles of one in five thousand, due dates over the coming year, a
/// reminder on two in three.
fn task_body(i: usize) -> Value {
    let mut tags = vec![format!("area-{}", i % 20)];
    if i.is_multiple_of(1_000) {
        tags.push("rare".to_string());
    }
    let title = if i % 5_000 == 7 {
        format!("needle {i}")
    } else {
        format!("Task {i}: the garden, the car and the taxes")
    };
    let due = chrono::Utc::now() + chrono::Duration::hours((i % 8_760) as i64);
    let priority = ["low", "medium", "high", "urgent"][i % 4];
    let mut body = json!({
        "title": title,
        "notes": "A few sentences of notes, as people write them: what the task needs, who asked for it, and why it matters this week.",
        "priority": priority,
        "tags": tags,
        "due": {"at": due.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "tz": "Europe/Berlin"},
    });
    if !i.is_multiple_of(3) {
        body["reminders"] = json!([{"before_due_minutes": 30}]);
    }
    body
}

/// Entry `n` of the account's history: one of ten changes to one of the tasks, spread over
/// [`HISTORY_DAYS`] in time order.
fn entry(n: usize, total: usize, tasks: &[(TaskId, Task)], now: Timestamp) -> AuditEntry {
    let (id, task) = &tasks[n % tasks.len()];
    let span = Duration::from_secs(HISTORY_DAYS as u64 * 86_400);
    let at = now
        .before(span)
        .after(span.mul_f64(n as f64 / total.max(1) as f64));
    let version = (n / tasks.len()) as u64 + 1;
    let mut after = task.clone();
    after.version = version;
    after.updated_at = at;
    AuditEntry {
        event_id: uuid::Uuid::now_v7(),
        operation: if version == 1 {
            "task.created"
        } else {
            "task.updated"
        }
        .to_string(),
        actor: Actor::User {
            id: OWNER.to_string(),
        },
        time: at,
        task_id: *id,
        owner: OWNER.to_string(),
        version,
        before: (version > 1).then(|| task.clone()),
        after: Some(after),
    }
}

async fn seed(engine: &Engine, tasks: usize, audit: usize) -> Vec<TaskId> {
    let client = engine.client().await;
    let store = DynamoTaskStore::new(client.clone(), "TasksTable");
    let now = Timestamp::now();
    let started = Instant::now();
    let bodies: Vec<(String, Value)> = (0..tasks)
        .map(|i| (OWNER.to_string(), task_body(i)))
        .collect();
    let ids = store.seed_tasks(bodies, now).await.expect("tasks seeded");
    eprintln!(
        "{tasks} tasks seeded in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // The entries' tasks: a hundred distinct bodies are enough for realistic sizes.
    let sample: Vec<(TaskId, Task)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let cmd: NewTask = serde_json::from_value(task_body(i % 100)).expect("a body");
            (*id, cmd.into_task(*id, OWNER, now).expect("a task"))
        })
        .collect();
    let started = Instant::now();
    let audit_store = AuditStore::new(client, "AuditTable");
    stream::iter((0..audit).step_by(APPEND))
        .map(|from| {
            let entries: Vec<AuditEntry> = (from..(from + APPEND).min(audit))
                .map(|n| entry(n, audit, &sample, now))
                .collect();
            let audit_store = &audit_store;
            async move { audit_store.append(&entries).await.map_err(|(_, e)| e) }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
        .expect("audit seeded");
    eprintln!(
        "{audit} audit entries seeded in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    ids
}

/// The handlers, as the per-route functions wire them.
struct Routes {
    tasks: DynamoTaskStore,
    audit: AuditStore,
    cursors: CursorCodec,
    admins: AdminPolicy,
}

impl Routes {
    /// Routes a request to its handler by its route key, as API Gateway does.
    async fn send(&self, call: &Call) -> Response<Body> {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;
        use todo_audit::http::{audit, export, history, search};
        use todo_tasks::http::{changes, list};
        let req = call.request();
        let route = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let now = Timestamp::now();
        match route.as_str() {
            "GET /tasks" => list::list_tasks(&self.tasks, &self.cursors, req)
                .await
                .into_response(),
            "GET /tasks/changes" => changes::task_changes(&self.tasks, &self.cursors, req, now)
                .await
                .into_response(),
            "GET /tasks/{id}/history" => history::task_history(&self.audit, &self.cursors, req)
                .await
                .into_response(),
            "GET /audit" => audit::audit_log(&self.audit, &self.cursors, req)
                .await
                .into_response(),
            "GET /audit/export" => export::audit_export(&self.audit, &self.cursors, req, now)
                .await
                .into_response(),
            "GET /admin/audit" => {
                search::admin_audit(&self.audit, &self.cursors, &self.admins, req, now)
                    .await
                    .into_response()
            }
            other => panic!("no route {other}"),
        }
    }
}

/// What a request is, its call, and the parameter that passes it the previous answer's next
/// page, if it follows on.
type Request = (&'static str, Call, Option<&'static str>);

/// The requests, `task` one with a full history.
fn requests(task: TaskId) -> Vec<Request> {
    let me = |path: &str| call("GET", path.to_string()).user(OWNER);
    let list = |q: &[(&str, &str)]| {
        q.iter()
            .fold(me("/tasks"), |c, (name, value)| c.query(name, value))
    };
    let admin = |q: &[(&str, &str)]| {
        q.iter().fold(
            call("GET", "/admin/audit")
                .user("root")
                .claim("cognito:groups", "admin"),
            |c, (name, value)| c.query(name, value),
        )
    };
    let day = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:59Z"));
    let (from, to) = (from.as_str(), to.as_str());
    let week = (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let task = task.to_string();
    let mut r = vec![
        ("list, default page", list(&[]), None),
        ("list, its next page", list(&[]), Some("cursor")),
        ("list, limit 100", list(&[("limit", "100")]), None),
    ];
    for (name, sort) in [
        ("list by due", "due"),
        ("list by priority", "priority"),
        ("list by title", "title"),
        ("list by updated", "updated"),
    ] {
        r.push((name, list(&[("sort", sort), ("order", "desc")]), None));
    }
    r.extend([
        (
            "list status=completed (matches none)",
            list(&[("status", "completed")]),
            None,
        ),
        (
            "list priority=urgent",
            list(&[("priority", "urgent")]),
            None,
        ),
        ("list tag=area-3", list(&[("tag", "area-3")]), None),
        ("list tag=rare (1 in 1,000)", list(&[("tag", "rare")]), None),
        (
            "search q=needle (1 in 5,000)",
            list(&[("q", "needle")]),
            None,
        ),
        (
            "search q=needle, sort by due",
            list(&[("q", "needle"), ("sort", "due")]),
            None,
        ),
        ("list overdue=true", list(&[("overdue", "true")]), None),
        (
            "list due_before a week",
            list(&[("due_before", &week), ("sort", "due")]),
            None,
        ),
        ("first sync", me("/tasks/changes"), None),
        (
            "first sync, its next page",
            me("/tasks/changes"),
            Some("since"),
        ),
        (
            "a task's history (10 entries)",
            me(&format!("/tasks/{task}/history")),
            None,
        ),
        ("audit, all time", me("/audit"), None),
        ("audit, its next page", me("/audit"), Some("cursor")),
        (
            "audit, one day",
            me("/audit").query("from", from).query("to", to),
            None,
        ),
        ("export, first part", me("/audit/export"), None),
        ("export, second part", me("/audit/export"), Some("cursor")),
        (
            "admin: the user's entries",
            admin(&[("actor", OWNER)]),
            None,
        ),
        ("admin: one task", admin(&[("task", &task)]), None),
        (
            "admin: updates of one day",
            admin(&[("operation", "task.updated"), ("from", from), ("to", to)]),
            None,
        ),
        ("admin: last 31 days", admin(&[]), None),
    ]);
    r
}

/// An answer, read: a JSON page (`items`, `next_cursor`) or an export part (JSON Lines, the
/// next part in its `Link`).
struct Answer {
    status: u16,
    items: usize,
    next: Option<String>,
    body: String,
}

impl Answer {
    fn of(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let link = response
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.split_once("cursor=").map(|(_, rest)| rest.to_string()))
            .and_then(|rest| rest.split(['&', '>']).next().map(str::to_string));
        let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        let (items, next) = match serde_json::from_str::<Value>(&body) {
            // A sync's page holds `changes` and goes on with `next_since` while `has_more`.
            Ok(page) if page.get("changes").is_some() => (
                page["changes"].as_array().map(Vec::len).unwrap_or(0),
                page["has_more"]
                    .as_bool()
                    .filter(|more| *more)
                    .and_then(|_| page["next_since"].as_str().map(str::to_string)),
            ),
            Ok(page) => (
                page["items"].as_array().map(Vec::len).unwrap_or(0),
                page["next_cursor"].as_str().map(str::to_string),
            ),
            Err(_) => (body.lines().count(), link),
        };
        Self {
            status,
            items,
            next,
            body,
        }
    }
}

#[tokio::main]
async fn main() {
    let (mut tasks, mut audit, mut latency) = (100_000, 1_000_000, "5ms".to_string());
    let mut data: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut number = || -> usize {
            args.next()
                .and_then(|n| n.replace('_', "").parse().ok())
                .expect("a whole number")
        };
        match a.as_str() {
            ENGINE_ARG => return todo_bench::engine_process::serve().await,
            "--tasks" => tasks = number(),
            "--data" => data = Some(args.next().expect("--data DIR").into()),
            "--audit" => audit = number(),
            "--dynamodb-latency" => {
                latency = args.next().expect("--dynamodb-latency 5ms");
                latency
                    .parse::<Latency>()
                    .expect("a latency: 5ms, 2ms..10ms");
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let data = data.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("todo-bench-account-{tasks}-{audit}"))
    });
    let seeded = data.join(format!("seeded-{tasks}-{audit}"));
    if !seeded.exists() {
        let _ = std::fs::remove_dir_all(&data);
    }
    let mut engine = Engine::start_in(Some(&data)).await;
    let task = match std::fs::read_to_string(&seeded) {
        Ok(id) => id.trim().parse().expect("the seeded task's id"),
        Err(_) => {
            let ids = seed(&engine, tasks, audit).await;
            let task = ids[ids.len() / 2];
            std::fs::write(&seeded, task.to_string()).expect("the seeding's mark");
            task
        }
    };
    let client = engine.client().await;
    let routes = Routes {
        tasks: DynamoTaskStore::new(client.clone(), "TasksTable"),
        audit: AuditStore::new(client, "AuditTable"),
        cursors: CursorCodec::new(b"bench-account-signing-key-0123456789".to_vec()),
        admins: AdminPolicy {
            claim: "cognito:groups".into(),
            group: "admin".into(),
        },
    };
    println!(
        "One account: {tasks} tasks, {audit} audit entries; DynamoDB latency per call: {latency}\n"
    );
    println!("| request | status | items | read units | time | the handler's CPU |");
    println!("|---|---|---|---|---|---|");
    let mut cursor: Option<String> = None;
    let mut worst_units: (f64, &str) = (0.0, "");
    let mut worst_time: (Duration, &str) = (Duration::ZERO, "");
    for (name, request, follows) in requests(task) {
        let request = match (&cursor, follows) {
            (Some(c), Some(param)) => request.query(param, c),
            (None, Some(_)) => {
                println!("| {name} | (the previous answer had no next page) | | | | |");
                continue;
            }
            (_, None) => request,
        };
        engine.go(&latency).await;
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let reply = Answer::of(routes.send(&request).await);
        let (took, cpu) = (started.elapsed(), cpu_seconds() - cpu);
        let capacity = engine.capacity().await;
        let units: f64 = capacity.partitions.iter().map(|p| p.read.units).sum();
        cursor = reply.next.clone();
        println!(
            "| {name} | {} | {} | {units:.1} | {:.0} ms | {:.0} ms |",
            reply.status,
            reply.items,
            took.as_secs_f64() * 1000.0,
            cpu * 1000.0
        );
        if reply.status >= 400 {
            eprintln!("{name}: {}", reply.body);
        }
        if units > worst_units.0 {
            worst_units = (units, name);
        }
        if took > worst_time.0 {
            worst_time = (took, name);
        }
    }
    println!(
        "\nMost read units: {} ({:.1}); slowest: {} ({:.0} ms)",
        worst_units.1,
        worst_units.0,
        worst_time.1,
        worst_time.0.as_secs_f64() * 1000.0
    );
    engine.stop().await;
}
