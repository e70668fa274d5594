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

    let (records, others): (Vec<_>, Vec<_>) = h
        .stream()
        .into_iter()
        .partition(|r| s(&r["dynamodb"]["Keys"], "sk").is_some_and(|sk| sk.starts_with("TASK#")));
    let kinds: Vec<_> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE"]);
    // The delete's tombstone (for delta sync) is one more record, which stands for no event.
    assert_eq!(others.len(), 1, "{others:?}");
    let tombstone = &others[0];
    assert_eq!(tombstone["eventName"], "INSERT");
    assert_eq!(
        s(&tombstone["dynamodb"]["NewImage"], "kind"),
        Some("tombstone")
    );
    assert!(matches!(
        todo_outbox::event_of(&lambda_record(tombstone.clone())),
        Ok(todo_outbox::Outcome::Skip(_))
    ));

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

fn lambda_record(raw: Value) -> aws_lambda_events::event::dynamodb::EventRecord {
    serde_json::from_value(raw).expect("a stream record is a Lambda DynamoDB event record")
}

#[tokio::test]
async fn stream_records_become_the_events_they_stand_for() {
    use todo_outbox::{Outcome, event_of};
    use todo_schema::{EventPayload, event::deletion_event_id};

    let h = Harness::new().await;
    let created = call("POST", "/tasks")
        .header("Idempotency-Key", "k")
        .json(json!({"title": "one"}))
        .send(&h)
        .await;
    let id = id_of(&created.body);
    let path = format!("/tasks/{id}");
    call("PATCH", &path)
        .json(json!({"title": "two"}))
        .send(&h)
        .await;
    call("POST", format!("{path}/complete")).send(&h).await;
    call("POST", format!("{path}/reopen")).send(&h).await;
    call("DELETE", &path).send(&h).await;

    let mut outcomes = Vec::new();
    for raw in h.stream() {
        outcomes.push(event_of(&lambda_record(raw)).unwrap());
    }
    let events: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Event(e) => Some(e),
            Outcome::Skip(_) => None,
        })
        .collect();
    assert_eq!(
        outcomes.len() - events.len(),
        2,
        "the idempotency record and the deletion's tombstone are skipped"
    );
    let types: Vec<_> = events
        .iter()
        .map(|e| e.payload.event_type().as_str())
        .collect();
    assert_eq!(
        types,
        [
            "task.created",
            "task.updated",
            "task.completed",
            "task.reopened",
            "task.deleted"
        ]
    );
    for e in &events {
        assert_eq!(e.subject.to_string(), id);
    }
    match &events[1].payload {
        EventPayload::TaskUpdated {
            before,
            task,
            actor,
        } => {
            assert_eq!((before.title.as_str(), task.title.as_str()), ("one", "two"));
            assert_eq!((before.version, task.version), (1, 2));
            assert_eq!(actor, &todo_schema::Actor::User { id: ALICE.into() });
        }
        other => panic!("{other:?}"),
    }
    match &events[4].payload {
        EventPayload::TaskDeleted { before, .. } => {
            assert_eq!(before.version, 4);
            assert_eq!(events[4].id, deletion_event_id(before.id, 4));
        }
        other => panic!("{other:?}"),
    }
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 5);
}

#[tokio::test]
async fn ttl_expiries_and_bookkeeping_writes_are_not_events() {
    use todo_outbox::{Outcome, event_of};

    let h = Harness::new().await;
    let id = id_of(&h.create(ALICE, json!({"title": "x"})).await);
    call("DELETE", format!("/tasks/{id}")).send(&h).await;
    let records = h.stream();

    // The same removal, performed by DynamoDB's TTL process instead of a user.
    let mut expiry = records[1].clone();
    expiry["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    assert_eq!(
        event_of(&lambda_record(expiry)).unwrap(),
        Outcome::Skip("expired by TTL")
    );

    // A write that keeps the recorded event (e.g. a sweep moving `rem_at`).
    let mut bookkeeping = records[0].clone();
    bookkeeping["eventName"] = json!("MODIFY");
    bookkeeping["dynamodb"]["OldImage"] = bookkeeping["dynamodb"]["NewImage"].clone();
    assert!(matches!(
        event_of(&lambda_record(bookkeeping)).unwrap(),
        Outcome::Skip(_)
    ));

    // An event type the table never records is an error, not a silent skip.
    let mut corrupt = records[0].clone();
    corrupt["dynamodb"]["NewImage"]["ev_type"] = json!({"S": "task.exploded"});
    assert!(event_of(&lambda_record(corrupt)).is_err());
}
