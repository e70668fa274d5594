//! The administrator's audit search (`GET /admin/audit`), the retention TTL and a user's export
//! (`GET /audit/export`), against a real DynamoDB API with entries written by the real store.
//! The search's answers are compared with the same filters applied to the entries in memory:
//! exact, in order, with nothing skipped or repeated across pages.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use todo_audit::http::export::{EXPORT_BYTES, audit_export};
use todo_audit::http::search::admin_audit;
use todo_audit::store::{
    AUDIT_SHARDS, AppendEntries, AuditStore, DAYS_PK, SEARCH_QUERIES_PER_PAGE, Search,
    SearchEntries, SearchStart,
};
use todo_lambda::admin::AdminPolicy;
use todo_lambda::cursor::CursorCodec;
use todo_lambda::http::IntoResponse;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::testing::apigw::{ALICE, BOB, Call, Reply, call, read};
use todo_schema::audit::AuditEntry;
use todo_schema::{Actor, TaskId, Timestamp};

const CAROL: &str = "user-carol";

struct World {
    engine: EmbeddedDynamo,
    audit: AuditStore,
    cursors: CursorCodec,
    admins: AdminPolicy,
    now: Timestamp,
}

impl World {
    async fn new() -> Self {
        let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
        let client = engine.client().await;
        Self {
            audit: AuditStore::new(client, "AuditTable"),
            cursors: CursorCodec::new(b"admin-test-signing-key-0123456789".to_vec()),
            admins: AdminPolicy {
                claim: "cognito:groups".into(),
                group: "admin".into(),
            },
            now: "2030-06-10T12:00:00Z".parse().unwrap(),
            engine,
        }
    }

    async fn search(&self, c: Call) -> Reply {
        read(
            admin_audit(
                &self.audit,
                &self.cursors,
                &self.admins,
                c.request(),
                self.now,
            )
            .await,
        )
    }

    /// Every entry a search finds, following its cursors, pages of `limit`.
    async fn search_all(&self, params: &[(&str, &str)], limit: usize) -> Vec<AuditEntry> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..500 {
            let mut c = admin().query("limit", &limit.to_string());
            for (k, v) in params {
                c = c.query(k, v);
            }
            if let Some(cur) = &cursor {
                c = c.query("cursor", cur);
            }
            let page = self.search(c).await;
            assert_eq!(page.status, 200, "{params:?}: {}", page.body);
            let items = page.body["items"].as_array().unwrap();
            assert!(items.len() <= limit, "a page holds at most limit entries");
            all.extend(
                items
                    .iter()
                    .map(|e| serde_json::from_value::<AuditEntry>(e.clone()).unwrap()),
            );
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.into()),
                None => return all,
            }
        }
        panic!("a search never ended");
    }
}

/// A request from an administrator (as API Gateway passes an array claim).
fn admin() -> Call {
    call("GET", "/admin/audit")
        .user(CAROL)
        .claim("cognito:groups", "[ops admin]")
}

fn entry(
    i: usize,
    owner: &str,
    actor: Actor,
    task: TaskId,
    op: &str,
    time: Timestamp,
) -> AuditEntry {
    serde_json::from_value(json!({
        "event_id": format!("0192f0c4-7b7e-7c3a-9d2e-{i:012}"),
        "operation": op, "actor": actor, "time": time, "task_id": task, "owner": owner,
        "version": i as u64 + 1,
    }))
    .unwrap()
}

/// 90 entries over three users, a system actor, five tasks, every operation, spread over the
/// last five days, one 40 days back and one right at `now`.
fn corpus(now: Timestamp) -> Vec<AuditEntry> {
    let tasks: Vec<TaskId> = (0..5).map(|_| TaskId::generate()).collect();
    let ops = [
        "task.created",
        "task.updated",
        "task.completed",
        "task.reopened",
        "task.deleted",
    ];
    let mut entries: Vec<AuditEntry> = (0..88)
        .map(|i| {
            let owner = [ALICE, BOB, CAROL][i % 3];
            let actor = if i % 7 == 0 {
                Actor::System { id: "sweep".into() }
            } else {
                Actor::User { id: owner.into() }
            };
            // Hours back, so the entries fall on five different days.
            let at = now.before(Duration::from_secs(
                3_600 * (i as u64 * 13 % 110) + i as u64,
            ));
            entry(i, owner, actor, tasks[i % 5], ops[i * 7 % 5], at)
        })
        .collect();
    entries.push(entry(
        88,
        ALICE,
        Actor::User { id: ALICE.into() },
        tasks[0],
        "task.updated",
        now.before(Duration::from_secs(40 * 86_400)),
    ));
    entries.push(entry(
        89,
        BOB,
        Actor::User { id: BOB.into() },
        tasks[1],
        "task.created",
        now,
    ));
    entries
}

fn oldest_first(mut v: Vec<AuditEntry>) -> Vec<AuditEntry> {
    v.sort_by_key(|e| (e.time, e.event_id));
    v
}

#[tokio::test]
async fn only_members_of_the_admin_group_may_search() {
    let w = World::new().await;
    for (c, status) in [
        (call("GET", "/admin/audit"), 403),
        (
            call("GET", "/admin/audit").claim("cognito:groups", "[users]"),
            403,
        ),
        (
            call("GET", "/admin/audit").claim("cognito:groups", "[administrators admins]"),
            403,
        ),
        (call("GET", "/admin/audit").claim("groups", "[admin]"), 403),
        (
            call("GET", "/admin/audit")
                .claim("cognito:groups", "[admin]")
                .anonymous(),
            401,
        ),
        // The forbidden answer comes before any parameter is looked at.
        (call("GET", "/admin/audit").query("task", "nope"), 403),
        (
            call("GET", "/admin/audit").claim("cognito:groups", "admin"),
            200,
        ),
        (
            call("GET", "/admin/audit").claim("cognito:groups", "[ops admin]"),
            200,
        ),
    ] {
        let event = c.event();
        let reply = w.search(c).await;
        assert_eq!(reply.status, status, "{event}\n{}", reply.body);
        if status == 403 {
            assert_eq!(reply.body["type"], "urn:serverless-todo:problem:forbidden");
        }
    }
    // Another provider's claim, by configuration.
    let w = World {
        admins: AdminPolicy {
            claim: "groups".into(),
            group: "auditors".into(),
        },
        ..w
    };
    let reply = w
        .search(call("GET", "/admin/audit").claim("groups", "[auditors]"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn every_filter_is_exact_across_pages() {
    let w = World::new().await;
    let all = corpus(w.now);
    w.audit.append(&all).await.unwrap();
    let task = all[3].task_id;
    let month = |e: &AuditEntry| e.time >= w.now.before(Duration::from_secs(31 * 86_400));
    let from = w.now.before(Duration::from_secs(50 * 3_600));
    let to = w.now.before(Duration::from_secs(20 * 3_600));
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let task_s = task.to_string();
    type Case<'a> = (
        Vec<(&'a str, &'a str)>,
        Box<dyn Fn(&AuditEntry) -> bool + 'a>,
    );
    let cases: Vec<Case> = vec![
        (vec![], Box::new(month)),
        (
            vec![("actor", BOB)],
            Box::new(move |e| month(e) && e.actor == Actor::User { id: BOB.into() }),
        ),
        (
            vec![("actor", "sweep"), ("actor_kind", "system")],
            Box::new(move |e| {
                month(e) && matches!(&e.actor, Actor::System { id } if id == "sweep")
            }),
        ),
        (
            vec![("actor", ALICE), ("operation", "task.updated")],
            Box::new(move |e| {
                month(e)
                    && e.actor == Actor::User { id: ALICE.into() }
                    && e.operation == "task.updated"
            }),
        ),
        (
            vec![("operation", "task.deleted")],
            Box::new(move |e| month(e) && e.operation == "task.deleted"),
        ),
        (
            vec![
                ("operation", "task.created"),
                ("from", &from_s),
                ("to", &to_s),
            ],
            Box::new(move |e| e.operation == "task.created" && e.time >= from && e.time <= to),
        ),
        (
            vec![("from", &from_s), ("to", &to_s)],
            Box::new(move |e| e.time >= from && e.time <= to),
        ),
        (
            vec![("task", &task_s)],
            Box::new(move |e| month(e) && e.task_id == task),
        ),
        (
            vec![
                ("task", &task_s),
                ("actor", CAROL),
                ("operation", "task.updated"),
            ],
            Box::new(move |e| {
                month(e)
                    && e.task_id == task
                    && e.actor == Actor::User { id: CAROL.into() }
                    && e.operation == "task.updated"
            }),
        ),
        (
            vec![("task", &task_s), ("from", "2000-01-01T00:00:00Z")],
            Box::new(move |e| e.task_id == task),
        ),
    ];
    for (params, keep) in &cases {
        let mut expected: Vec<AuditEntry> = all.iter().filter(|e| keep(e)).cloned().collect();
        let by_task = params.iter().any(|(k, _)| *k == "task");
        if by_task {
            expected.sort_by_key(|e| (e.version, e.event_id));
        } else {
            expected = oldest_first(expected);
        }
        assert!(!expected.is_empty(), "{params:?} matches something");
        // A search by task or by a user reads one partition: it pages one entry at a time too.
        // The others gather 101 partitions a day over the default month, and a page of one would
        // cost thousands of Queries in this test; `a_search_gathers_every_shard_once...` pages
        // those one at a time over two days.
        let one_partition = by_task || params.iter().any(|(k, v)| *k == "actor" && *v != "sweep");
        let limits: &[usize] = if one_partition {
            &[1, 7, 100]
        } else {
            &[7, 100]
        };
        for &limit in limits {
            let got = w.search_all(params, limit).await;
            assert_eq!(got, expected, "{params:?} limit {limit}");
        }
    }
    // The entry 40 days back is outside the default month, found with an explicit range.
    let old = w
        .search_all(
            &[
                ("from", "2030-04-01T00:00:00Z"),
                ("to", "2030-05-02T00:00:00Z"),
            ],
            10,
        )
        .await;
    assert_eq!(old.len(), 1);
}

#[tokio::test]
async fn bad_searches_are_400s_naming_the_parameter() {
    let w = World::new().await;
    let page = w.search(admin().query("limit", "1")).await;
    assert_eq!(page.status, 200);
    for (k, v) in [
        ("task", "not-a-uuid"),
        ("task", "0192F0C4-7B7E-7C3A-9D2E-3F4A5B6C7D8E"),
        ("operation", "reminder.due"),
        ("operation", "task.archived"),
        ("actor", ""),
        ("actor_kind", "user"),
        ("from", "yesterday"),
        ("from", "0000-01-01T00:00:00Z"),
        ("from", "2031-01-01T00:00:00Z"),
        ("to", "tomorrow"),
        ("limit", "0"),
        ("cursor", "forged.cursor"),
        ("owner", "alice"),
    ] {
        let reply = w.search(admin().query(k, v)).await;
        assert_eq!(reply.status, 400, "{k}={v}: {}", reply.body);
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(k)
                || k == "cursor",
            "{k}: {}",
            reply.body
        );
    }
    let reply = w
        .search(admin().query("actor", BOB).query("actor_kind", "robot"))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
}

#[tokio::test]
async fn entries_expire_by_ttl_after_the_retention_period() {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let client = engine.client().await;
    let store = AuditStore::new(client.clone(), "AuditTable")
        .with_retention(Duration::from_secs(400 * 86_400));
    let at: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let e = entry(
        1,
        ALICE,
        Actor::User { id: ALICE.into() },
        TaskId::generate(),
        "task.created",
        at,
    );
    store.append(std::slice::from_ref(&e)).await.unwrap();
    let ttl = |item: &HashMap<String, AttributeValue>| -> i64 {
        item["ttl"].as_n().unwrap().parse().unwrap()
    };
    let (markers, entries): (Vec<_>, Vec<_>) = scan_all_items(&client)
        .await
        .into_iter()
        .partition(|item| item["pk"].as_s().unwrap() == DAYS_PK);
    assert_eq!(ttl(&entries[0]), at.epoch_seconds() + 400 * 86_400);
    // The day's marker in the directory of days expires with the day's last entries.
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0]["sk"].as_s().unwrap(), "2030-01-01");
    assert_eq!(ttl(&markers[0]), at.epoch_seconds() + 86_400 + 400 * 86_400);
}

#[tokio::test]
async fn a_users_export_is_their_entries_as_json_lines_in_linked_parts() {
    let w = World::new().await;
    let task = TaskId::generate();
    // Entries of two copies of a task with 4,000-character notes: of "é", about 16 KB stored
    // and in JSON; of a control character, 8 KB stored but 48 KB in JSON (each escapes to
    // `\u0001`), so a 1 MB Query of them is 6 MB of JSON. 300 make many parts.
    let body = |notes: String| -> Value {
        json!({"id": task, "owner": ALICE, "title": "big", "notes": notes,
        "status": "open", "priority": "medium", "tags": [], "reminders": [],
        "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z", "version": 1})
    };
    let mut entries = Vec::new();
    for i in 0..300 {
        let notes = if i < 100 { "é" } else { "\u{1}" }.repeat(4_000);
        let mut e = entry(
            i,
            ALICE,
            Actor::User { id: ALICE.into() },
            task,
            "task.updated",
            w.now.before(Duration::from_secs(10_000 - i as u64)),
        );
        e.before = Some(serde_json::from_value(body(notes)).unwrap());
        e.after = e.before.clone();
        entries.push(e);
    }
    entries.push(entry(
        500,
        BOB,
        Actor::User { id: BOB.into() },
        TaskId::generate(),
        "task.created",
        w.now,
    ));
    w.audit.append(&entries).await.unwrap();

    let mut lines = Vec::new();
    let mut next = Some("/audit/export".to_string());
    let mut parts = 0;
    while let Some(url) = next.take() {
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let mut c = call("GET", path);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            c = c.query(k, v);
        }
        let response = audit_export(&w.audit, &w.cursors, c.request(), w.now)
            .await
            .into_response();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/jsonl");
        next = response.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with("; rel=\"next\""), "{l}");
            l[1..l.find('>').unwrap()].to_string()
        });
        let bytes = response.body().to_vec();
        // A part ends with the entry that fills it, whatever a Query returned.
        assert!(
            bytes.len() < EXPORT_BYTES + 64 * 1024,
            "part {parts}: {} bytes",
            bytes.len()
        );
        lines.extend(
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
        parts += 1;
    }
    assert!(parts >= 2, "the export came in {parts} parts");
    let exported: Vec<AuditEntry> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is one entry"))
        .collect();
    let alices: Vec<_> = oldest_first(entries.into_iter().filter(|e| e.owner == ALICE).collect());
    assert_eq!(
        exported, alices,
        "every entry of the caller's, once, oldest first; none of Bob's"
    );

    for (k, v) in [("limit", "5"), ("from", "soon"), ("cursor", "x.y")] {
        let r = read(
            audit_export(
                &w.audit,
                &w.cursors,
                call("GET", "/audit/export").query(k, v).request(),
                w.now,
            )
            .await,
        );
        assert_eq!(r.status, 400, "{k}={v}");
    }
    let r = read(
        audit_export(
            &w.audit,
            &w.cursors,
            call("GET", "/audit/export").anonymous().request(),
            w.now,
        )
        .await,
    );
    assert_eq!(r.status, 401);
}

/// Every entry's item of the audit table (not the directory of days).
async fn scan_all(client: &aws_sdk_dynamodb::Client) -> Vec<HashMap<String, AttributeValue>> {
    scan_all_items(client)
        .await
        .into_iter()
        .filter(|item| item["pk"].as_s().unwrap() != DAYS_PK)
        .collect()
}

/// Every item of the audit table.
async fn scan_all_items(client: &aws_sdk_dynamodb::Client) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name("AuditTable")
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

#[tokio::test]
async fn the_entries_of_one_day_spread_over_every_shard_of_the_shared_keys() {
    let w = World::new().await;
    let sweep = Actor::System {
        id: "reminder-sweep".into(),
    };
    let task = TaskId::generate();
    // One day of the sweep's entries, the keys' worst case: one day, one operation, one actor.
    let entries: Vec<AuditEntry> = (0..2_000)
        .map(|i| {
            let at = w.now.before(Duration::from_secs(i as u64 % 40_000));
            entry(i, ALICE, sweep.clone(), task, "reminder.due", at)
        })
        .collect();
    w.audit.append(&entries).await.unwrap();
    let items = scan_all(&w.engine.client().await).await;
    assert_eq!(items.len(), entries.len());
    let fair = entries.len() / AUDIT_SHARDS as usize;
    for (attr, base) in [
        ("day_pk", "2030-06-10".to_string()),
        ("op_pk", "reminder.due#2030-06-10".to_string()),
        ("actor_pk", "system#reminder-sweep".to_string()),
    ] {
        let mut per_key: HashMap<String, usize> = HashMap::new();
        for item in &items {
            *per_key
                .entry(item[attr].as_s().unwrap().clone())
                .or_default() += 1;
        }
        let shards: Vec<String> = (0..AUDIT_SHARDS)
            .map(|s| format!("{base}#{s:02}"))
            .collect();
        for key in per_key.keys() {
            assert!(
                shards.contains(key),
                "{attr} {key} is one of {base}'s shards"
            );
        }
        assert_eq!(
            per_key.len(),
            shards.len(),
            "{attr}: every shard is written"
        );
        let most = per_key.values().max().unwrap();
        assert!(
            *most <= 2 * fair,
            "{attr}: the fullest shard holds {most}, more than twice its share {fair}"
        );
    }
    // A user's key stays whole: one user's rate is bounded.
    let user = entry(
        5_000,
        BOB,
        Actor::User { id: BOB.into() },
        task,
        "task.updated",
        w.now,
    );
    w.audit.append(std::slice::from_ref(&user)).await.unwrap();
    let items = scan_all(&w.engine.client().await).await;
    assert!(
        items
            .iter()
            .any(|i| i["actor_pk"].as_s().unwrap() == "user#user-bob")
    );
}

/// Entries of two days, most of them the sweep's, several at one instant.
fn shared_corpus(now: Timestamp) -> Vec<AuditEntry> {
    let tasks: Vec<TaskId> = (0..3).map(|_| TaskId::generate()).collect();
    let ops = [
        "task.created",
        "task.updated",
        "reminder.due",
        "task.completed",
    ];
    (0..240)
        .map(|i| {
            let actor = if i % 3 == 0 {
                Actor::User { id: BOB.into() }
            } else {
                Actor::System { id: "sweep".into() }
            };
            // Back over 36 hours; one entry in ten at the instant of the one before.
            let step = if i % 10 == 1 { i - 1 } else { i };
            let at = now.before(Duration::from_secs(step as u64 * 541));
            entry(i, [ALICE, BOB][i % 2], actor, tasks[i % 3], ops[i % 4], at)
        })
        .collect()
}

#[tokio::test]
async fn a_search_gathers_every_shard_once_in_order_across_small_pages() {
    let w = World::new().await;
    let all = shared_corpus(w.now);
    w.audit.append(&all).await.unwrap();
    let sweep = |e: &AuditEntry| matches!(&e.actor, Actor::System { id } if id == "sweep");
    let task = all[1].task_id;
    let task_s = task.to_string();
    type Case<'a> = (
        Vec<(&'a str, &'a str)>,
        Box<dyn Fn(&AuditEntry) -> bool + 'a>,
        &'a [usize],
    );
    let cases: Vec<Case> = vec![
        (vec![], Box::new(|_| true), &[5, 64]),
        (
            vec![("operation", "task.updated")],
            Box::new(|e| e.operation == "task.updated"),
            &[4, 100],
        ),
        (
            vec![("actor", "sweep"), ("actor_kind", "system")],
            Box::new(sweep),
            &[3, 50],
        ),
        (
            vec![
                ("actor", "sweep"),
                ("actor_kind", "system"),
                ("operation", "task.completed"),
            ],
            Box::new(move |e| sweep(e) && e.operation == "task.completed"),
            &[1, 2, 100],
        ),
        (
            vec![
                ("task", &task_s),
                ("actor", "sweep"),
                ("actor_kind", "system"),
            ],
            Box::new(move |e| sweep(e) && e.task_id == task),
            &[1, 9],
        ),
    ];
    // Their entries lie within two days: a shorter range than the default month walks fewer days.
    let from = w.now.before(Duration::from_secs(2 * 86_400)).to_string();
    for (params, keep, limits) in &cases {
        let params: Vec<(&str, &str)> = params
            .iter()
            .copied()
            .chain([("from", from.as_str())])
            .collect();
        let params = &params;
        let mut expected: Vec<AuditEntry> = all.iter().filter(|e| keep(e)).cloned().collect();
        if params.iter().any(|(k, _)| *k == "task") {
            expected.sort_by_key(|e| (e.version, e.event_id));
        } else {
            expected = oldest_first(expected);
        }
        assert!(expected.len() > 5, "{params:?} matches several");
        for &limit in *limits {
            let got = w.search_all(params, limit).await;
            assert_eq!(got, expected, "{params:?} limit {limit}");
        }
    }
}

#[tokio::test]
async fn an_entry_written_before_sharding_is_found_once() {
    let w = World::new().await;
    let all = shared_corpus(w.now);
    w.audit.append(&all).await.unwrap();
    // The keys the unsharded writer gave an entry of the sweep's.
    let old = all
        .iter()
        .find(|e| matches!(&e.actor, Actor::System { .. }) && e.operation == "task.updated")
        .unwrap();
    let client = w.engine.client().await;
    unshard(&client, old).await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, Box<dyn Fn(&AuditEntry) -> bool>);
    let cases: [Case; 3] = [
        (vec![], Box::new(|_| true)),
        (
            vec![("operation", "task.updated")],
            Box::new(|e| e.operation == "task.updated"),
        ),
        (
            vec![("actor", "sweep"), ("actor_kind", "system")],
            Box::new(|e| matches!(&e.actor, Actor::System { .. })),
        ),
    ];
    let from = w.now.before(Duration::from_secs(2 * 86_400)).to_string();
    for (params, keep) in &cases {
        let params: Vec<(&str, &str)> = params
            .iter()
            .copied()
            .chain([("from", from.as_str())])
            .collect();
        let params = &params;
        let expected = oldest_first(all.iter().filter(|e| keep(e)).cloned().collect());
        // Pages of one over shards are `a_search_gathers_every_shard_once...`'s.
        for limit in [7, 100] {
            let got = w.search_all(params, limit).await;
            assert_eq!(
                got.iter().filter(|e| e.event_id == old.event_id).count(),
                1,
                "{params:?} limit {limit}: the legacy entry once"
            );
            assert_eq!(got, expected, "{params:?} limit {limit}");
        }
    }
    // Delivered again, the event's item moves to its shard: still once.
    w.audit.append(std::slice::from_ref(old)).await.unwrap();
    let got = w
        .search_all(&[("operation", "task.updated"), ("from", &from)], 10)
        .await;
    assert_eq!(
        got,
        oldest_first(
            all.iter()
                .filter(|e| e.operation == "task.updated")
                .cloned()
                .collect()
        )
    );
}

/// Gives a system actor's entry back the keys the writer gave it before sharding: unsharded
/// `day_pk`, `op_pk` and `actor_pk`, as an upgraded stack's earlier entries have them.
async fn unshard(client: &aws_sdk_dynamodb::Client, e: &AuditEntry) {
    let day = e.time.as_datetime().format("%Y-%m-%d").to_string();
    let Actor::System { id } = &e.actor else {
        panic!("a system actor's entry")
    };
    client
        .update_item()
        .table_name("AuditTable")
        .key(
            "pk",
            AttributeValue::S(format!("USER#{}#TASK#{}", e.owner, e.task_id)),
        )
        .key(
            "sk",
            AttributeValue::S(format!("V#{:020}#{}", e.version, e.event_id)),
        )
        .condition_expression("attribute_exists(pk)")
        .update_expression("SET day_pk = :d, op_pk = :o, actor_pk = :a")
        .expression_attribute_values(":d", AttributeValue::S(day.clone()))
        .expression_attribute_values(":o", AttributeValue::S(format!("{}#{day}", e.operation)))
        .expression_attribute_values(":a", AttributeValue::S(format!("system#{id}")))
        .send()
        .await
        .unwrap();
}

/// Counts the Queries (every call) a client makes.
#[derive(Clone, Debug, Default)]
struct CountCalls(Arc<AtomicUsize>);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_walk_over_empty_days_stays_within_the_query_budget() {
    let w = World::new().await;
    let found = entry(
        1,
        ALICE,
        Actor::User { id: ALICE.into() },
        TaskId::generate(),
        "task.created",
        w.now.before(Duration::from_secs(86_400)),
    );
    w.audit.append(std::slice::from_ref(&found)).await.unwrap();
    let calls = CountCalls::default();
    let client = w.engine.client().await;
    let counted = aws_sdk_dynamodb::Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build(),
    );
    let store = AuditStore::new(counted, "AuditTable");
    for operation in [None, Some("task.created".to_string())] {
        let search = Search {
            actor: None,
            task: None,
            operation: operation.clone(),
            from: w.now.before(Duration::from_secs(40 * 86_400)),
            to: w.now,
        };
        let mut start: Option<SearchStart> = None;
        let mut got = Vec::new();
        let mut total = 0;
        loop {
            calls.0.store(0, Ordering::SeqCst);
            let page = store.search(&search, 10, start.take()).await.unwrap();
            let spent = calls.0.load(Ordering::SeqCst);
            assert!(
                spent <= SEARCH_QUERIES_PER_PAGE,
                "{operation:?}: a page made {spent} Queries"
            );
            total += spent;
            got.extend(page.entries);
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        assert_eq!(got, std::slice::from_ref(&found), "{operation:?}");
        // The directory of days, then one Query for each of the 40 days without sharded entries
        // (its legacy key) and every shard and the legacy key of the one day with an entry.
        let most = 1 + 40 + AUDIT_SHARDS as usize + 1;
        assert!(
            total <= most,
            "{operation:?}: the walk made {total} Queries"
        );
    }
}

#[tokio::test]
async fn a_day_written_before_sharding_is_searched_by_its_legacy_key() {
    let w = World::new().await;
    let client = w.engine.client().await;
    let day = |d: u64| w.now.before(Duration::from_secs(d * 86_400));
    // Entries 20, 10 and 1 days back; the one 10 days back as a release before sharding wrote
    // it: unsharded keys and no marker of its day in the directory.
    let all: Vec<AuditEntry> = [20, 10, 1]
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let actor = Actor::System { id: "sweep".into() };
            entry(i, ALICE, actor, TaskId::generate(), "task.updated", day(d))
        })
        .collect();
    w.audit.append(&all).await.unwrap();
    let old = &all[1];
    let old_day = old.time.as_datetime().format("%Y-%m-%d").to_string();
    unshard(&client, old).await;
    client
        .delete_item()
        .table_name("AuditTable")
        .key("pk", AttributeValue::S(DAYS_PK.into()))
        .key("sk", AttributeValue::S(old_day))
        .send()
        .await
        .unwrap();
    for params in [
        vec![],
        vec![("operation", "task.updated")],
        vec![("actor", "sweep"), ("actor_kind", "system")],
    ] {
        for limit in [1, 2, 100] {
            assert_eq!(
                w.search_all(&params, limit).await,
                all,
                "{params:?} {limit}"
            );
        }
    }
}
