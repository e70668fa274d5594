//! The audit consumer and read API against a real DynamoDB API, fed with the events the real
//! outbox makes of real task changes.

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use todo_audit::consumer::audit_batch;
use todo_audit::http::{audit::audit_log, history::task_history};
use todo_audit::store::AuditStore;
use todo_lambda::cursor::CursorCodec;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::testing::apigw::{ALICE, BOB, Reply, call, read};
use todo_outbox::{Outcome, event_of};
use todo_schema::{Actor, EventEnvelope, NewTask, TaskId, TaskPatch, Timestamp};
use todo_tasks::store::{
    CompleteTask, CreateTask, DeleteTask, DynamoTaskStore, TaskWrite, UpdateTask,
};

struct World {
    engine: EmbeddedDynamo,
    tasks: DynamoTaskStore,
    audit: AuditStore,
    cursors: CursorCodec,
}

impl World {
    async fn new() -> Self {
        let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
        let client = engine.client().await;
        Self {
            tasks: DynamoTaskStore::new(client.clone(), "TasksTable"),
            audit: AuditStore::new(client, "AuditTable"),
            cursors: CursorCodec::new(b"audit-test-signing-key-0123456789".to_vec()),
            engine,
        }
    }

    /// The events the outbox makes of everything written so far.
    fn events(&self) -> Vec<EventEnvelope> {
        todo_local::streams::read_all(self.engine.database(), "TasksTable")
            .unwrap()
            .into_iter()
            .filter_map(
                |raw| match event_of(&serde_json::from_value(raw).unwrap()).unwrap() {
                    Outcome::Event(e) => Some(*e),
                    Outcome::Skip(_) => None,
                },
            )
            .collect()
    }

    async fn history(&self, user: &str, task: TaskId) -> Reply {
        let req = call("GET", format!("/tasks/{task}/history"))
            .user(user)
            .request();
        read(task_history(&self.audit, &self.cursors, req).await)
    }
}

/// An MSK event carrying `values` on partition 0 of `todo.task.events`, from offset 100.
fn msk(values: Vec<Option<String>>) -> KafkaEvent {
    let records: Vec<Value> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            json!({"topic": "todo.task.events", "partition": 0, "offset": 100 + i as i64,
                   "timestamp": 1767225600000i64, "timestampType": "CREATE_TIME",
                   "key": B64.encode("k"), "value": value, "headers": []})
        })
        .collect();
    serde_json::from_value(
        json!({"eventSource": "aws:kafka", "records": {"todo.task.events-0": records}}),
    )
    .unwrap()
}

fn encoded(e: &EventEnvelope) -> Option<String> {
    Some(B64.encode(serde_json::to_vec(e).unwrap()))
}

async fn lifecycle(w: &World) -> TaskId {
    let actor = Actor::User { id: ALICE.into() };
    let cmd: NewTask = serde_json::from_value(json!({"title": "Audit me"})).unwrap();
    let task = cmd
        .into_task(TaskId::generate(), ALICE, Timestamp::now())
        .unwrap();
    w.tasks.create(&task, &actor, None).await.unwrap();
    let patch: TaskPatch = serde_json::from_value(json!({"title": "Audited"})).unwrap();
    w.tasks
        .update(
            &TaskWrite::new(ALICE, task.id, &actor, Timestamp::now()),
            &patch.check().unwrap(),
        )
        .await
        .unwrap();
    w.tasks
        .complete(&TaskWrite::new(ALICE, task.id, &actor, Timestamp::now()))
        .await
        .unwrap();
    w.tasks
        .delete(ALICE, task.id, None, Timestamp::now())
        .await
        .unwrap();
    task.id
}

#[tokio::test]
async fn every_event_becomes_one_entry_with_before_and_after_even_when_redelivered() {
    let w = World::new().await;
    let id = lifecycle(&w).await;
    let events = w.events();
    assert_eq!(events.len(), 4);
    let batch = || msk(events.iter().map(encoded).collect());
    for _ in 0..2 {
        let response = audit_batch(
            &w.audit,
            batch(),
            todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
        )
        .await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    // The same event twice in one batch is written once too.
    let doubled = msk(vec![encoded(&events[0]), encoded(&events[0])]);
    assert!(
        audit_batch(
            &w.audit,
            doubled,
            todo_lambda::deadline::after(std::time::Duration::from_secs(60))
        )
        .await
        .batch_item_failures
        .is_empty()
    );

    let history = w.history(ALICE, id).await;
    assert_eq!(history.status, 200, "{}", history.body);
    let entries = history.body["items"].as_array().unwrap();
    let ops: Vec<_> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "task.created",
            "task.updated",
            "task.completed",
            "task.deleted"
        ],
        "the deleted task's history stays readable"
    );
    assert_eq!(entries[1]["before"]["title"], "Audit me");
    assert_eq!(entries[1]["after"]["title"], "Audited");
    assert!(entries[0].get("before").is_none());
    assert!(entries[3].get("after").is_none());
    assert_eq!(entries[1]["actor"], json!({"kind": "user", "id": ALICE}));
    assert_eq!(entries[1]["event_id"], events[1].id.to_string());

    let bobs = w.history(BOB, id).await;
    assert_eq!(
        (bobs.status, w.history(BOB, TaskId::generate()).await.body),
        (404, bobs.body.clone()),
        "another user's task answers like a missing one, as on every task route"
    );
}

#[tokio::test]
async fn a_poison_record_is_reported_while_the_rest_of_the_batch_is_applied() {
    let w = World::new().await;
    let id = lifecycle(&w).await;
    let events = w.events();
    let mut unknown = serde_json::to_value(&events[1]).unwrap();
    unknown["type"] = json!("task.archived");
    let batch = msk(vec![
        encoded(&events[0]),
        Some("not base64 at all %%%".into()),
        Some(B64.encode(unknown.to_string())),
        encoded(&events[1]),
        None,
        encoded(&events[2]),
        encoded(&events[3]),
    ]);
    let response = audit_batch(
        &w.audit,
        batch,
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(
        wire,
        json!({"batchItemFailures": [
            {"itemIdentifier": {"partition": "todo.task.events-0", "offset": 101}},
            {"itemIdentifier": {"partition": "todo.task.events-0", "offset": 104}}
        ]})
    );
    let history = w.history(ALICE, id).await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn an_unavailable_table_fails_the_partition_from_the_first_unwritten_record() {
    let w = World::new().await;
    lifecycle(&w).await;
    let events = w.events();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = aws_config_for(&endpoint).await;
    let down = AuditStore::new(aws_sdk_dynamodb::Client::new(&config), "AuditTable");
    let response = audit_batch(
        &down,
        msk(events.iter().map(encoded).collect()),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    let offsets: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.offset)
        .collect();
    assert_eq!(offsets, [100, 101, 102, 103]);
}

async fn aws_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .test_credentials()
        .endpoint_url(endpoint)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

#[tokio::test]
async fn the_audit_route_pages_the_callers_entries_in_a_time_range() {
    let w = World::new().await;
    lifecycle(&w).await;
    lifecycle(&w).await;
    let events = w.events();
    assert!(
        audit_batch(
            &w.audit,
            msk(events.iter().map(encoded).collect()),
            todo_lambda::deadline::after(std::time::Duration::from_secs(60))
        )
        .await
        .batch_item_failures
        .is_empty()
    );

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut c = call("GET", "/audit").query("limit", "3");
        if let Some(cur) = &cursor {
            c = c.query("cursor", cur);
        }
        let page = read(audit_log(&w.audit, &w.cursors, c.request()).await);
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].clone()),
        );
        match page.body.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let expected: Vec<_> = events.iter().map(|e| json!(e.id.to_string())).collect();
    assert_eq!(seen, expected, "oldest first, nothing skipped or repeated");

    let first = events[0].time.to_string();
    let only_first = read(
        audit_log(
            &w.audit,
            &w.cursors,
            call("GET", "/audit")
                .query("from", &first)
                .query("to", &first)
                .request(),
        )
        .await,
    );
    assert_eq!(
        only_first.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        only_first.body
    );

    let bob = read(
        audit_log(
            &w.audit,
            &w.cursors,
            call("GET", "/audit").user(BOB).request(),
        )
        .await,
    );
    assert_eq!(bob.body["items"], json!([]));

    for (k, v) in [
        ("from", "yesterday"),
        ("limit", "0"),
        ("colour", "red"),
        ("cursor", "forged"),
    ] {
        let bad = read(
            audit_log(
                &w.audit,
                &w.cursors,
                call("GET", "/audit").query(k, v).request(),
            )
            .await,
        );
        assert_eq!(bad.status, 400, "{k}={v}");
    }
    let reversed = read(
        audit_log(
            &w.audit,
            &w.cursors,
            call("GET", "/audit")
                .query("from", "2030-01-01T00:00:00Z")
                .query("to", "2020-01-01T00:00:00Z")
                .request(),
        )
        .await,
    );
    assert_eq!(reversed.status, 400);
    let anonymous = read(
        audit_log(
            &w.audit,
            &w.cursors,
            call("GET", "/audit").anonymous().request(),
        )
        .await,
    );
    assert_eq!(anonymous.status, 401);
    let history_anonymous = read(
        task_history(
            &w.audit,
            &w.cursors,
            call("GET", format!("/tasks/{}/history", events[0].subject))
                .anonymous()
                .request(),
        )
        .await,
    );
    assert_eq!(history_anonymous.status, 401);
}
