//! Notifications against a real DynamoDB API and a real local webhook receiver.

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use todo_lambda::cursor::CursorCodec;
use todo_local::apigw::{ALICE, BOB, call, read};
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::webhook::WebhookReceiver;
use todo_notifications::consumer::notify_batch;
use todo_notifications::http::{list::list_notifications, read::mark_read};
use todo_notifications::store::InboxStore;
use todo_notifications::webhook::{NoWebhook, Webhook};
use todo_schema::webhook::verify;
use todo_schema::{Actor, EventEnvelope, EventPayload, NewTask, TaskId, Timestamp};
use uuid::Uuid;

const SECRET: &[u8] = b"webhook-test-secret";

fn reminder(owner: &str, title: &str) -> EventEnvelope {
    let cmd: NewTask = serde_json::from_value(json!({"title": title})).unwrap();
    let task = cmd
        .into_task(TaskId::generate(), owner, Timestamp::now())
        .unwrap();
    EventEnvelope::new(
        Uuid::now_v7(),
        task.id,
        Timestamp::now(),
        EventPayload::ReminderDue {
            actor: Actor::System {
                id: "reminder-sweep".into(),
            },
            task,
            reminder_at: "2031-01-01T00:00:00Z".parse().unwrap(),
            late: false,
        },
    )
}

fn msk(values: Vec<Option<String>>) -> KafkaEvent {
    let records: Vec<Value> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            json!({"topic": "todo.reminders", "partition": 2, "offset": i as i64, "timestamp": 1767225600000i64,
                   "timestampType": "CREATE_TIME", "key": null, "value": value, "headers": []})
        })
        .collect();
    serde_json::from_value(
        json!({"eventSource": "SelfManagedKafka", "records": {"todo.reminders-2": records}}),
    )
    .unwrap()
}

fn encoded(e: &EventEnvelope) -> Option<String> {
    Some(B64.encode(serde_json::to_vec(e).unwrap()))
}

async fn inbox() -> (EmbeddedDynamo, InboxStore) {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = InboxStore::new(engine.client().await, "NotificationsTable");
    (engine, store)
}

#[tokio::test]
async fn a_reminder_reaches_the_inbox_and_a_webhook_whose_signature_verifies_once() {
    let (_engine, store) = inbox().await;
    let hook = WebhookReceiver::start().await.unwrap();
    let webhook = Webhook::new(hook.url().to_string(), SECRET.to_vec()).unwrap();
    let event = reminder(ALICE, "Call the bank");
    let batch = || msk(vec![encoded(&event)]);

    for _ in 0..2 {
        let r = notify_batch(
            &store,
            &webhook,
            batch(),
            todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
        )
        .await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
    }
    let received = hook.received();
    assert_eq!(received.len(), 1, "a redelivered batch does not post again");
    let delivery = &received[0];
    assert_eq!(delivery.method, "POST");
    assert_eq!(delivery.headers["x-todo-delivery"], event.id.to_string());
    let timestamp: i64 = delivery.headers["x-todo-timestamp"].parse().unwrap();
    verify(
        SECRET,
        timestamp,
        &delivery.body,
        &delivery.headers["x-todo-signature"],
        Timestamp::now().epoch_seconds(),
        300,
    )
    .expect("the signature verifies");
    let body: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(body["title"], "Call the bank");
    assert_eq!(body["id"], event.id.to_string());

    let cursors = CursorCodec::new(b"notifications-test-key-0123456789".to_vec());
    let list =
        read(list_notifications(&store, &cursors, call("GET", "/notifications").request()).await);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "one notification however often delivered"
    );
}

#[tokio::test]
async fn a_failing_webhook_retries_the_record_and_keeps_the_inbox_entry() {
    let (_engine, store) = inbox().await;
    let hook = WebhookReceiver::start().await.unwrap();
    hook.answer(500);
    let webhook = Webhook::new(hook.url().to_string(), SECRET.to_vec()).unwrap();
    let event = reminder(ALICE, "x");
    let r = notify_batch(
        &store,
        &webhook,
        msk(vec![encoded(&event)]),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    assert_eq!(
        serde_json::to_value(&r).unwrap()["batchItemFailures"][0]["itemIdentifier"],
        json!({"partition": "todo.reminders-2", "offset": 0})
    );
    hook.answer(200);
    let r = notify_batch(
        &store,
        &webhook,
        msk(vec![encoded(&event)]),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(
        hook.received().len(),
        2,
        "posted again after the failure, then accepted"
    );
}

#[tokio::test]
async fn poison_records_and_other_event_types_do_not_block_reminders() {
    let (_engine, store) = inbox().await;
    let good = reminder(ALICE, "good");
    let mut unknown = serde_json::to_value(reminder(ALICE, "u")).unwrap();
    unknown["type"] = json!("reminder.snoozed");
    let r = notify_batch(
        &store,
        &NoWebhook,
        msk(vec![
            Some("{not base64".into()),
            Some(B64.encode(unknown.to_string())),
            Some(B64.encode("{\"json\": \"but no event\"}")),
            encoded(&good),
        ]),
        todo_lambda::deadline::after(std::time::Duration::from_secs(60)),
    )
    .await;
    let offsets: Vec<_> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.offset)
        .collect();
    assert_eq!(offsets, [0, 2]);
    let cursors = CursorCodec::new(b"notifications-test-key-0123456789".to_vec());
    let list =
        read(list_notifications(&store, &cursors, call("GET", "/notifications").request()).await);
    assert_eq!(list.body["items"][0]["title"], "good");
}

#[tokio::test]
async fn the_inbox_api_lists_unread_pages_and_marks_read_for_the_owner_only() {
    let (_engine, store) = inbox().await;
    let cursors = CursorCodec::new(b"notifications-test-key-0123456789".to_vec());
    let events: Vec<_> = (0..5).map(|i| reminder(ALICE, &format!("r{i}"))).collect();
    assert!(
        notify_batch(
            &store,
            &NoWebhook,
            msk(events.iter().map(encoded).collect()),
            todo_lambda::deadline::after(std::time::Duration::from_secs(60))
        )
        .await
        .batch_item_failures
        .is_empty()
    );

    let first = events[0].id;
    let marked = read(
        mark_read(
            &store,
            call("POST", format!("/notifications/{first}/read")).request(),
        )
        .await,
    );
    assert_eq!(marked.status, 200, "{}", marked.body);
    let read_at = marked.body["read_at"].clone();
    assert!(read_at.is_string());
    let again = read(
        mark_read(
            &store,
            call("POST", format!("/notifications/{first}/read")).request(),
        )
        .await,
    );
    assert_eq!(
        again.body["read_at"], read_at,
        "marking read twice keeps the first time"
    );
    let bob = read(
        mark_read(
            &store,
            call("POST", format!("/notifications/{}/read", events[1].id))
                .user(BOB)
                .request(),
        )
        .await,
    );
    assert_eq!(bob.status, 404);
    let junk = read(
        mark_read(
            &store,
            call("POST", "/notifications/not-an-id/read").request(),
        )
        .await,
    );
    assert_eq!(junk.status, 404);

    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut c = call("GET", "/notifications")
            .query("unread", "true")
            .query("limit", "2");
        if let Some(cur) = &cursor {
            c = c.query("cursor", cur);
        }
        let page = read(list_notifications(&store, &cursors, c.request()).await);
        assert_eq!(page.status, 200, "{}", page.body);
        titles.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_string()),
        );
        match page.body.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(
        titles,
        ["r4", "r3", "r2", "r1"],
        "unread only, newest first"
    );
    let bobs = read(
        list_notifications(
            &store,
            &cursors,
            call("GET", "/notifications").user(BOB).request(),
        )
        .await,
    );
    assert_eq!(bobs.body["items"], json!([]));
    for (k, v) in [
        ("unread", "yes"),
        ("limit", "500"),
        ("colour", "red"),
        ("cursor", "forged"),
    ] {
        let bad = read(
            list_notifications(
                &store,
                &cursors,
                call("GET", "/notifications").query(k, v).request(),
            )
            .await,
        );
        assert_eq!(bad.status, 400, "{k}={v}");
    }
    let anonymous = read(
        list_notifications(
            &store,
            &cursors,
            call("GET", "/notifications").anonymous().request(),
        )
        .await,
    );
    assert_eq!(anonymous.status, 401);
}
