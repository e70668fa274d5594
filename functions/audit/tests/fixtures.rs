//! The sample MSK events in `events/msk/` through the audit consumer: valid events, a poison
//! record, an unknown event type, and the same batch delivered again.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_audit::consumer::audit_batch;
use todo_audit::store::{AuditStore, ReadEntries};
use todo_local::dynamodb::EmbeddedDynamo;

fn fixture(name: &str) -> KafkaEvent {
    let path = format!("{}/../../events/msk/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn sample_batches_are_audited_once_with_the_poison_record_reported() {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = AuditStore::new(engine.client().await, "AuditTable");

    let response = audit_batch(
        &store,
        fixture("task-events-with-poison.json"),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| {
            (
                f.item_identifier.partition.clone(),
                f.item_identifier.offset,
            )
        })
        .collect();
    assert_eq!(
        failed,
        [("todo.task.events-0".to_string(), 42)],
        "only the poison record; the unknown type is skipped"
    );

    // The batch delivered again (without the poison record): nothing new.
    let again = audit_batch(
        &store,
        fixture("task-events.json"),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    assert!(again.batch_item_failures.is_empty());
    let first: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../events/streams/tasks-table-changes.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let owner = first["Records"][0]["dynamodb"]["NewImage"]["owner"]["S"]
        .as_str()
        .unwrap()
        .to_string();
    let task = first["Records"][0]["dynamodb"]["NewImage"]["id"]["S"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let history = store.history(&owner, task, 100, None).await.unwrap();
    let ops: Vec<_> = history.items.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "task.created",
            "task.updated",
            "task.completed",
            "task.reopened",
            "task.deleted"
        ]
    );
}

#[tokio::test]
async fn the_sample_http_events_run_through_the_read_handlers() {
    use todo_audit::http::export::audit_export;
    use todo_audit::http::search::admin_audit;
    use todo_audit::http::{audit::audit_log, history::task_history};
    use todo_lambda::cursor::CursorCodec;
    use todo_lambda::http::IntoResponse;
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = AuditStore::new(engine.client().await, "AuditTable");
    let cursors = CursorCodec::new(b"fixture-test-signing-key-0123456789".to_vec());
    let request = |name: &str| {
        let path = format!("{}/../../events/http/{name}", env!("CARGO_MANIFEST_DIR"));
        lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    // The sample history request names the task of the sample MSK events: audit those first.
    let audited = audit_batch(
        &store,
        fixture("task-events.json"),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    assert!(audited.batch_item_failures.is_empty());
    let history = todo_local::testing::apigw::read(
        task_history(&store, &cursors, request("task-history.json")).await,
    );
    assert_eq!(history.status, 200, "{}", history.body);
    assert!(!history.body["items"].as_array().unwrap().is_empty());
    let log = todo_local::testing::apigw::read(
        audit_log(&store, &cursors, request("audit-log.json")).await,
    );
    assert_eq!(log.status, 200, "{}", log.body);

    let now = todo_schema::Timestamp::now();
    let export = audit_export(&store, &cursors, request("audit-export.json"), now)
        .await
        .into_response();
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/jsonl");
    let admins = todo_lambda::admin::AdminPolicy {
        claim: "cognito:groups".into(),
        group: "admin".into(),
    };
    let found = todo_local::testing::apigw::read(
        admin_audit(
            &store,
            &cursors,
            &admins,
            request("admin-audit-search.json"),
            now,
        )
        .await,
    );
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(
        found.body["items"].as_array().unwrap().len(),
        history.body["items"].as_array().unwrap().len(),
        "the administrator finds the sample task's whole history"
    );
}
