//! The table's stream is the outbox: exactly one stream record per change, carrying its event
//! (id, type, actor, time) and the state before and after.

mod support;

use serde_json::{Value, json};
use support::*;

fn s<'a>(image: &'a Value, attr: &str) -> Option<&'a str> {
    image[attr]["S"].as_str()
}

#[tokio::test]
async fn every_change_is_exactly_one_stream_record_with_its_event_and_images() {
    let h = Harness::new().await;
    let id = id_of(&h.create(ALICE, json!({"title": "one"})).await);
    let path = format!("/tasks/{id}");
    call("PATCH", &path)
        .json(json!({"title": "two"}))
        .send(&h)
        .await;
    call("POST", format!("{path}/complete")).send(&h).await;
    call("POST", format!("{path}/complete")).send(&h).await; // no-op: no record
    call("POST", format!("{path}/reopen")).send(&h).await;
    call("POST", format!("{path}/reopen")).send(&h).await; // no-op: no record
    call("PATCH", &path)
        .header("If-Match", "\"1\"")
        .json(json!({"title": "x"}))
        .send(&h)
        .await; // 412: no record
    call("DELETE", &path).send(&h).await;
    call("GET", &path).send(&h).await; // reads write nothing

    let records = h.stream();
    let kinds: Vec<_> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE"]);

    let events: Vec<_> = records[..4]
        .iter()
        .map(|r| s(&r["dynamodb"]["NewImage"], "ev_type").unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "task.created",
            "task.updated",
            "task.completed",
            "task.reopened"
        ]
    );

    let mut ids = std::collections::HashSet::new();
    for r in &records[..4] {
        let new = &r["dynamodb"]["NewImage"];
        assert_eq!(s(new, "kind"), Some("task"));
        assert!(
            ids.insert(s(new, "ev_id").unwrap().to_string()),
            "event ids are unique"
        );
        assert_eq!(new["ev_actor"]["M"]["id"]["S"], ALICE);
        assert_eq!(new["ev_actor"]["M"]["kind"]["S"], "user");
        assert!(s(new, "ev_at").is_some());
    }

    // Before and after images: the update carries "one" -> "two".
    let update = &records[1]["dynamodb"];
    assert_eq!(s(&update["OldImage"], "title"), Some("one"));
    assert_eq!(s(&update["NewImage"], "title"), Some("two"));
    let complete = &records[2]["dynamodb"];
    assert_eq!(s(&complete["OldImage"], "status"), Some("open"));
    assert_eq!(s(&complete["NewImage"], "status"), Some("completed"));

    // The delete is a real delete: no new image, the last state in the old image, from which
    // the deletion event's id is derived.
    let delete = &records[4]["dynamodb"];
    assert!(delete.get("NewImage").is_none() || delete["NewImage"].is_null());
    assert_eq!(s(&delete["OldImage"], "title"), Some("two"));
    assert_eq!(delete["OldImage"]["version"]["N"], "4");
    let task_id: todo_schema::TaskId = id.parse().unwrap();
    assert_ne!(
        todo_schema::event::deletion_event_id(task_id, 4).to_string(),
        s(&delete["OldImage"], "ev_id").unwrap(),
        "the deletion event is a new event, not the last recorded one"
    );
}

#[tokio::test]
async fn idempotency_records_are_recognisable_as_non_events() {
    let h = Harness::new().await;
    call("POST", "/tasks")
        .header("Idempotency-Key", "k1")
        .json(json!({"title": "x"}))
        .send(&h)
        .await;
    let records = h.stream();
    assert_eq!(records.len(), 2, "the task and the idempotency record");
    let kinds: Vec<_> = records
        .iter()
        .map(|r| s(&r["dynamodb"]["NewImage"], "kind").unwrap())
        .collect();
    assert!(kinds.contains(&"task") && kinds.contains(&"idempotency"));
    let idem = records
        .iter()
        .find(|r| s(&r["dynamodb"]["NewImage"], "kind") == Some("idempotency"))
        .unwrap();
    assert!(
        idem["dynamodb"]["NewImage"].get("ev_id").is_none(),
        "no event on bookkeeping items"
    );
    assert!(
        idem["dynamodb"]["NewImage"]["ttl"]["N"].is_string(),
        "expires by TTL"
    );
}

#[tokio::test]
async fn completing_a_recurring_task_records_the_completion_and_the_next_creation() {
    let h = Harness::new().await;
    let id = id_of(
        &h.create(ALICE, json!({"title": "x", "due": {"at": "2030-01-01T09:00:00Z", "tz": "UTC"}, "recurrence": "FREQ=DAILY"}))
            .await,
    );
    call("POST", format!("/tasks/{id}/complete")).send(&h).await;
    let events: Vec<_> = h
        .stream()
        .iter()
        .map(|r| {
            s(&r["dynamodb"]["NewImage"], "ev_type")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(events, ["task.created", "task.completed", "task.created"]);
}
