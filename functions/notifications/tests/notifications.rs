//! The reminder channels against a real DynamoDB API and a real local webhook receiver.

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use todo_lambda::cursor::CursorCodec;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::testing::apigw::{ALICE, BOB, call, read};
use todo_local::webhook::WebhookReceiver;
use todo_notifications::channels::delivery::deliver_batch;
use todo_notifications::channels::in_app::in_app_batch;
use todo_notifications::channels::webhook::Webhook;
use todo_notifications::http::{list::list_notifications, read::mark_read};
use todo_notifications::store::InboxStore;
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

fn later() -> tokio::time::Instant {
    todo_lambda::deadline::after(std::time::Duration::from_secs(60))
}

async fn in_app(store: &InboxStore, batch: KafkaEvent) -> Vec<i64> {
    offsets(in_app_batch(store, batch, later()).await)
}

async fn webhook(store: &InboxStore, hook: &Webhook, batch: KafkaEvent) -> Vec<i64> {
    offsets(deliver_batch(store, hook, batch, later()).await)
}

fn offsets(r: todo_lambda::kafka::KafkaBatchResponse) -> Vec<i64> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.offset)
        .collect()
}

async fn alices_notifications(store: &InboxStore, unread: bool) -> Vec<Value> {
    let cursors = CursorCodec::new(b"notifications-test-key-0123456789".to_vec());
    let mut request = call("GET", "/notifications");
    if unread {
        request = request.query("unread", "true");
    }
    let list = read(list_notifications(store, &cursors, request.request()).await);
    assert_eq!(list.status, 200, "{}", list.body);
    list.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_reminder_reaches_the_inbox_and_a_webhook_whose_signature_verifies_once() {
    let (_engine, store) = inbox().await;
    let hook = WebhookReceiver::start().await.unwrap();
    let sender = Webhook::new(hook.url().to_string(), SECRET.to_vec()).unwrap();
    let event = reminder(ALICE, "Call the bank");
    let batch = || msk(vec![encoded(&event)]);

    // Each channel twice, in either order: one inbox entry, one POST.
    for _ in 0..2 {
        assert_eq!(webhook(&store, &sender, batch()).await, Vec::<i64>::new());
        assert_eq!(in_app(&store, batch()).await, Vec::<i64>::new());
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

    let items = alices_notifications(&store, true).await;
    assert_eq!(items.len(), 1, "one notification however often delivered");
    let deliveries = &items[0]["deliveries"];
    assert_eq!(deliveries[0]["channel"], "in_app");
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[1]["channel"], "webhook");
    assert_eq!(deliveries[1]["destination"], "operator");
    assert_eq!(deliveries[1]["status"], "delivered");
    assert_eq!(deliveries[1]["attempts"], 1);
    assert!(deliveries[1]["delivered_at"].is_string());
}

#[tokio::test]
async fn a_failing_webhook_never_holds_the_inbox_and_catches_up_once_it_recovers() {
    let (_engine, store) = inbox().await;
    let hook = WebhookReceiver::start().await.unwrap();
    hook.answer(503);
    let sender = Webhook::new(hook.url().to_string(), SECRET.to_vec()).unwrap();
    let events: Vec<_> = (0..3).map(|i| reminder(ALICE, &format!("r{i}"))).collect();
    let batch = || msk(events.iter().map(encoded).collect());

    // The webhook is down: its channel reports the first record and everything after it...
    assert_eq!(webhook(&store, &sender, batch()).await, [0, 1, 2]);
    // ...while the in-app channel places every reminder of the batch at once.
    assert_eq!(in_app(&store, batch()).await, Vec::<i64>::new());
    let items = alices_notifications(&store, true).await;
    assert_eq!(items.len(), 3);
    let first = items.iter().find(|n| n["title"] == "r0").unwrap();
    let attempt = first["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "webhook")
        .unwrap();
    assert_eq!(attempt["status"], "retrying");
    assert_eq!(attempt["attempts"], 1);
    assert_eq!(
        attempt["last_error"],
        "webhook answered 503 Service Unavailable"
    );
    // The channel's own backoff: a Kafka mapping would retry at once.
    let at = |field: &str| {
        attempt[field]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert_eq!(
        (at("next_attempt_at") - at("updated_at")).num_milliseconds(),
        1_000,
        "the first retry waits a second"
    );

    // It recovers; the mapping retries the batch: each reminder posted once, no duplicates.
    hook.answer(200);
    assert_eq!(webhook(&store, &sender, batch()).await, Vec::<i64>::new());
    assert_eq!(webhook(&store, &sender, batch()).await, Vec::<i64>::new());
    let ids: Vec<String> = hook
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.headers["x-todo-delivery"].clone())
        .collect();
    let expected: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        ids, expected,
        "each once, in order, after the failed attempt"
    );
    let items = alices_notifications(&store, false).await;
    for n in &items {
        let hooked = n["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel"] == "webhook")
            .unwrap()
            .clone();
        let expected_attempts = if n["title"] == "r0" { 2 } else { 1 };
        assert_eq!(hooked["status"], "delivered", "{n}");
        assert_eq!(hooked["attempts"], expected_attempts, "{n}");
    }
}

#[tokio::test]
async fn a_webhook_refusal_is_recorded_and_never_retried() {
    let (_engine, store) = inbox().await;
    let hook = WebhookReceiver::start().await.unwrap();
    hook.answer(410);
    let sender = Webhook::new(hook.url().to_string(), SECRET.to_vec()).unwrap();
    let event = reminder(ALICE, "gone");
    let batch = || msk(vec![encoded(&event)]);
    assert_eq!(
        webhook(&store, &sender, batch()).await,
        Vec::<i64>::new(),
        "a 4xx is not retried by the mapping"
    );
    hook.answer(200);
    assert_eq!(webhook(&store, &sender, batch()).await, Vec::<i64>::new());
    assert_eq!(hook.received().len(), 1, "not sent again on a redelivery");
    let items = alices_notifications(&store, false).await;
    assert_eq!(items[0]["deliveries"][0]["status"], "failed");
    assert_eq!(
        items[0]["deliveries"][0]["last_error"],
        "webhook answered 410 Gone"
    );
    // The webhook created the notification's record, not its place in the inbox.
    assert_eq!(
        alices_notifications(&store, true).await,
        Vec::<Value>::new()
    );
    assert_eq!(in_app(&store, batch()).await, Vec::<i64>::new());
    assert_eq!(alices_notifications(&store, true).await.len(), 1);
}

#[tokio::test]
async fn a_read_notification_stays_read_when_the_inbox_gets_it_again() {
    let (_engine, store) = inbox().await;
    let event = reminder(ALICE, "read me");
    let batch = || msk(vec![encoded(&event)]);
    assert_eq!(in_app(&store, batch()).await, Vec::<i64>::new());
    let marked = read(
        mark_read(
            &store,
            call("POST", format!("/notifications/{}/read", event.id)).request(),
        )
        .await,
    );
    assert_eq!(marked.status, 200);
    assert_eq!(in_app(&store, batch()).await, Vec::<i64>::new());
    assert_eq!(
        alices_notifications(&store, true).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn poison_records_and_other_event_types_do_not_block_reminders() {
    let (_engine, store) = inbox().await;
    let good = reminder(ALICE, "good");
    let mut unknown = serde_json::to_value(reminder(ALICE, "u")).unwrap();
    unknown["type"] = json!("reminder.snoozed");
    let offsets = in_app(
        &store,
        msk(vec![
            Some("{not base64".into()),
            Some(B64.encode(unknown.to_string())),
            Some(B64.encode("{\"json\": \"but no event\"}")),
            encoded(&good),
        ]),
    )
    .await;
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
    assert_eq!(
        in_app(&store, msk(events.iter().map(encoded).collect())).await,
        Vec::<i64>::new()
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
    // Given twice, a parameter is refused, not read as its first value (API Gateway joins the
    // values with a comma, which lambda_http splits again).
    for (k, first, second) in [("unread", "false", "true"), ("limit", "1", "2")] {
        let twice = read(
            list_notifications(
                &store,
                &cursors,
                call("GET", "/notifications")
                    .query(k, first)
                    .query(k, second)
                    .request(),
            )
            .await,
        );
        assert_eq!(twice.status, 400, "{k} twice: {}", twice.body);
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

mod settings_and_email {
    use super::*;
    use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
    use todo_local::ses::LocalSes;
    use todo_notifications::channels::delivery::ChannelConsumer;
    use todo_notifications::channels::email::Email;
    use todo_notifications::http::settings::{get_settings, put_settings};
    use todo_schema::quiet_hours::QuietHours;

    fn ses_client(ses: &LocalSes) -> aws_sdk_sesv2::Client {
        let config = aws_sdk_sesv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(ses.url())
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build();
        aws_sdk_sesv2::Client::from_conf(config)
    }

    fn email_sender<'a>(
        store: &'a InboxStore,
        ses: &LocalSes,
        configuration_set: Option<String>,
    ) -> Email<'a, InboxStore> {
        Email {
            client: ses_client(ses),
            sender: "reminders@todo.test".into(),
            configuration_set,
            link_template: "https://app.test/tasks/{id}".into(),
            settings: store,
        }
    }

    async fn put(store: &InboxStore, user: &str, body: Value) -> todo_local::testing::apigw::Reply {
        read(
            put_settings(
                store,
                call("PUT", "/settings/notifications")
                    .user(user)
                    .json(body)
                    .request(),
            )
            .await,
        )
    }

    #[tokio::test]
    async fn settings_are_the_callers_own_and_validated_whole() {
        let (_engine, store) = inbox().await;
        let get = |user: &'static str| {
            let store = &store;
            async move {
                read(
                    get_settings(
                        store,
                        call("GET", "/settings/notifications").user(user).request(),
                    )
                    .await,
                )
            }
        };
        let defaults = get(ALICE).await;
        assert_eq!(defaults.status, 200);
        assert_eq!(
            defaults.body,
            json!({"email": {"enabled": false}, "push": {"enabled": true}})
        );

        let on = json!({"email": {"enabled": true, "address": "alice@example.com"}, "push": {"enabled": false}});
        let stored = put(&store, ALICE, on.clone()).await;
        assert_eq!(stored.status, 200, "{}", stored.body);
        assert_eq!(get(ALICE).await.body, on);
        assert_eq!(
            get(BOB).await.body,
            json!({"email": {"enabled": false}, "push": {"enabled": true}}),
            "bob's are his own"
        );

        for (body, field) in [
            (json!({"email": {"enabled": true}}), "email.address"),
            (
                json!({"email": {"enabled": false, "address": "Alice <a@b.co>"}}),
                "email.address",
            ),
            (
                json!({"email": {"enabled": true, "address": "a@b.co"}, "sms": true}),
                "sms",
            ),
            (json!({"email": {"enabled": "yes"}}), "email.enabled"),
            (json!({}), "email"),
        ] {
            let refused = put(&store, ALICE, body.clone()).await;
            assert_eq!(refused.status, 422, "{body}: {}", refused.body);
            assert_eq!(
                refused.body["errors"][0]["field"], field,
                "{body}: {}",
                refused.body
            );
        }
        assert_eq!(get(ALICE).await.body, on, "a refused write changes nothing");
        let text = read(
            put_settings(
                &store,
                call("PUT", "/settings/notifications")
                    .raw("text/plain", "{}")
                    .request(),
            )
            .await,
        );
        assert_eq!(text.status, 415);
        let anonymous = read(
            get_settings(
                &store,
                call("GET", "/settings/notifications").anonymous().request(),
            )
            .await,
        );
        assert_eq!(anonymous.status, 401);
    }

    #[tokio::test]
    async fn a_reminder_is_emailed_once_to_the_address_its_owner_chose() {
        let (_engine, store) = inbox().await;
        let ses = LocalSes::start().await.unwrap();
        let email = email_sender(&store, &ses, Some("todo".into()));
        put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "alice@example.com"}}),
        )
        .await;
        let mine = reminder(ALICE, "Call the bank");
        let bobs = reminder(BOB, "Bob has e-mail off");
        let batch = || msk(vec![encoded(&mine), encoded(&bobs)]);
        for _ in 0..2 {
            let r = deliver_batch(&store, &email, batch(), later()).await;
            assert!(r.batch_item_failures.is_empty(), "{r:?}");
        }
        let sent = ses.sent();
        assert_eq!(
            sent.len(),
            1,
            "once, and only to whoever turned e-mail on: {sent:?}"
        );
        assert_eq!(sent[0].to, ["alice@example.com"]);
        assert_eq!(sent[0].from, "reminders@todo.test");
        assert_eq!(sent[0].subject, "Reminder: Call the bank");
        assert_eq!(sent[0].configuration_set.as_deref(), Some("todo"));
        let task_id = mine.subject.to_string();
        assert!(
            sent[0]
                .text
                .as_ref()
                .unwrap()
                .contains(&format!("https://app.test/tasks/{task_id}"))
        );
        assert!(
            sent[0]
                .html
                .as_ref()
                .unwrap()
                .contains("<h1>Call the bank</h1>")
        );
        let items = alices_notifications(&store, false).await;
        let delivery = &items[0]["deliveries"][0];
        assert_eq!(delivery["channel"], "email");
        assert_eq!(delivery["destination"], "alice@example.com");
        assert_eq!(delivery["status"], "delivered");
    }

    /// A reminder due in its owner's quiet hours is held back, not dropped: the inbox gets it
    /// at once, e-mail waits (the delivery says until when) while the partition moves on, a
    /// drain before then sends nothing, and the drain once they are over sends it, once.
    #[tokio::test]
    async fn quiet_hours_hold_an_email_until_they_end_and_the_drain_sends_it_once() {
        let (_engine, store) = inbox().await;
        let ses = LocalSes::start().await.unwrap();
        let email = email_sender(&store, &ses, None);
        let drain = ChannelConsumer {
            store: &store,
            sender: &email,
            max_backoff: todo_notifications::channels::delivery::MAX_BACKOFF,
        };
        // Quiet from an hour ago until two hours from now, on a UTC clock.
        let clock = |hours: i64| {
            (chrono::Utc::now() + chrono::Duration::hours(hours))
                .format("%H:%M")
                .to_string()
        };
        let quiet = json!({"start": clock(-1), "end": clock(2), "time_zone": "UTC"});
        let expected_until = serde_json::from_value::<QuietHours>(quiet.clone())
            .unwrap()
            .until(Timestamp::now())
            .expect("now is inside them");
        let stored = put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "alice@example.com"}, "quiet_hours": quiet}),
        )
        .await;
        assert_eq!(stored.status, 200, "{}", stored.body);
        let event = reminder(ALICE, "quiet please");
        let batch = || msk(vec![encoded(&event)]);
        for _ in 0..2 {
            let r = deliver_batch(&store, &email, batch(), later()).await;
            assert!(
                r.batch_item_failures.is_empty(),
                "deferred is done for the partition: {r:?}"
            );
        }
        assert_eq!(in_app(&store, batch()).await, Vec::<i64>::new());
        assert!(ses.sent().is_empty(), "nothing e-mailed in quiet hours");
        let items = alices_notifications(&store, true).await;
        assert_eq!(items.len(), 1, "the inbox does not wait");
        let held = items[0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel"] == "email")
            .cloned()
            .unwrap();
        assert_eq!(held["status"], "deferred");
        assert_eq!(held["attempts"], 0);
        assert_eq!(held["next_attempt_at"], expected_until.to_string());

        let early = drain.drain(Timestamp::now(), later()).await.unwrap();
        assert_eq!(
            (early.settled, early.parked_again, early.left),
            (0, 0, 0),
            "not due yet"
        );
        assert!(ses.sent().is_empty());

        // Due, but still quiet (the owner moved them later): parked again, not sent.
        let still = drain.drain(expected_until, later()).await.unwrap();
        assert_eq!((still.settled, still.parked_again), (0, 1), "{still:?}");
        assert!(ses.sent().is_empty());

        // The owner ends their quiet hours: the next drain of what is due sends it, once.
        put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "alice@example.com"}}),
        )
        .await;
        let done = drain.drain(expected_until, later()).await.unwrap();
        assert_eq!(
            (done.settled, done.parked_again, done.left),
            (1, 0, 0),
            "{done:?}"
        );
        let again = drain.drain(expected_until, later()).await.unwrap();
        assert_eq!(again.settled, 0, "taken off once sent");
        let r = deliver_batch(&store, &email, batch(), later()).await;
        assert!(r.batch_item_failures.is_empty());
        let sent = ses.sent();
        assert_eq!(sent.len(), 1, "once: {sent:?}");
        assert_eq!(sent[0].subject, "Reminder: quiet please");
        let items = alices_notifications(&store, false).await;
        let delivered = items[0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel"] == "email")
            .cloned()
            .unwrap();
        assert_eq!(delivered["status"], "delivered");
        assert_eq!(delivered["attempts"], 1);
    }

    /// A parked reminder that still cannot go out a day after its time is closed as failed
    /// (and taken off), not tried every minute forever.
    #[tokio::test]
    async fn a_parked_reminder_is_given_up_a_day_after_its_time() {
        let (_engine, store) = inbox().await;
        let ses = LocalSes::start().await.unwrap();
        let email = email_sender(&store, &ses, None);
        let drain = ChannelConsumer {
            store: &store,
            sender: &email,
            max_backoff: todo_notifications::channels::delivery::MAX_BACKOFF,
        };
        let clock = |hours: i64| {
            (chrono::Utc::now() + chrono::Duration::hours(hours))
                .format("%H:%M")
                .to_string()
        };
        put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "alice@example.com"},
                   "quiet_hours": {"start": clock(-1), "end": clock(2), "time_zone": "UTC"}}),
        )
        .await;
        let event = reminder(ALICE, "too late");
        let r = deliver_batch(&store, &email, msk(vec![encoded(&event)]), later()).await;
        assert!(r.batch_item_failures.is_empty());
        // The reminder's time is 2031-01-01T00:00Z; a drain 26 hours after it gives up.
        let report = drain
            .drain("2031-01-02T02:00:00Z".parse().unwrap(), later())
            .await
            .unwrap();
        assert_eq!((report.settled, report.parked_again), (1, 0), "{report:?}");
        assert!(ses.sent().is_empty());
        let items = alices_notifications(&store, false).await;
        let email = items[0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["channel"] == "email")
            .cloned()
            .unwrap();
        assert_eq!(email["status"], "failed");
        assert!(
            email["last_error"].as_str().unwrap().starts_with("gave up"),
            "{email}"
        );
        let again = drain
            .drain("2031-01-02T02:00:00Z".parse().unwrap(), later())
            .await
            .unwrap();
        assert_eq!(again.settled, 0, "taken off");
    }

    #[tokio::test]
    async fn quiet_hours_are_validated() {
        let (_engine, store) = inbox().await;
        let email = json!({"enabled": false});
        for (quiet, field) in [
            (
                json!({"start": "22:00", "end": "22:00", "time_zone": "UTC"}),
                "quiet_hours.end",
            ),
            (
                json!({"start": "7:00", "end": "22:00", "time_zone": "UTC"}),
                "quiet_hours.start",
            ),
            (
                json!({"start": "22:00", "end": "24:00", "time_zone": "UTC"}),
                "quiet_hours.end",
            ),
            (
                json!({"start": "22:00", "end": "07:00", "time_zone": "Moon/Base"}),
                "quiet_hours.time_zone",
            ),
            (
                json!({"start": "22:00", "end": "07:00"}),
                "quiet_hours.time_zone",
            ),
            (json!(null), "quiet_hours"),
            (json!("22:00-07:00"), "quiet_hours"),
        ] {
            let refused = put(&store, ALICE, json!({"email": email, "quiet_hours": quiet})).await;
            assert_eq!(refused.status, 422, "{quiet}: {}", refused.body);
            assert_eq!(
                refused.body["errors"][0]["field"], field,
                "{quiet}: {}",
                refused.body
            );
        }
        let ok = json!({"email": email, "push": {"enabled": true}, "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"}});
        let stored = put(&store, ALICE, ok.clone()).await;
        assert_eq!(stored.status, 200, "{}", stored.body);
        assert_eq!(stored.body, ok);
    }

    /// The owner changes their address while a send is being retried: the retry goes to the
    /// new address, and the old address's pending retry is closed as cancelled.
    #[tokio::test]
    async fn a_retry_follows_the_owners_current_settings() {
        let (_engine, store) = inbox().await;
        let ses = LocalSes::start().await.unwrap();
        let email = email_sender(&store, &ses, None);
        put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "old@example.com"}}),
        )
        .await;
        let event = reminder(ALICE, "moving house");
        ses.far_end().answer(503);
        let r = deliver_batch(&store, &email, msk(vec![encoded(&event)]), later()).await;
        assert_eq!(r.batch_item_failures.len(), 1);
        put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "new@example.com"}}),
        )
        .await;
        ses.far_end().answer(200);
        let r = deliver_batch(&store, &email, msk(vec![encoded(&event)]), later()).await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
        let to: Vec<Vec<String>> = ses.sent().into_iter().map(|m| m.to).collect();
        assert_eq!(to, [vec!["new@example.com".to_string()]]);
        let items = alices_notifications(&store, false).await;
        let by = |address: &str| {
            items[0]["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["destination"] == address)
                .cloned()
                .unwrap()
        };
        assert_eq!(by("new@example.com")["status"], "delivered");
        assert_eq!(by("old@example.com")["status"], "failed");
        assert!(
            by("old@example.com")["last_error"]
                .as_str()
                .unwrap()
                .starts_with("cancelled")
        );
    }

    #[tokio::test]
    async fn ses_refusals_are_final_and_outages_retried_without_duplicates() {
        let (_engine, store) = inbox().await;
        let ses = LocalSes::start().await.unwrap();
        let email = email_sender(&store, &ses, None);
        put(
            &store,
            ALICE,
            json!({"email": {"enabled": true, "address": "alice@example.com"}}),
        )
        .await;
        let rejected = reminder(ALICE, "rejected");
        ses.far_end().answer(400);
        let r = deliver_batch(&store, &email, msk(vec![encoded(&rejected)]), later()).await;
        assert!(
            r.batch_item_failures.is_empty(),
            "MessageRejected is not retried"
        );
        ses.far_end().answer(503);
        let later_one = reminder(ALICE, "outage");
        let r = deliver_batch(&store, &email, msk(vec![encoded(&later_one)]), later()).await;
        assert_eq!(r.batch_item_failures.len(), 1, "an outage is retried");
        ses.far_end().answer(200);
        for _ in 0..2 {
            let both = msk(vec![encoded(&rejected), encoded(&later_one)]);
            assert!(
                deliver_batch(&store, &email, both, later())
                    .await
                    .batch_item_failures
                    .is_empty()
            );
        }
        let sent: Vec<String> = ses.sent().iter().map(|m| m.subject.clone()).collect();
        assert_eq!(
            sent,
            ["Reminder: outage"],
            "the rejected one is never sent again"
        );
        let items = alices_notifications(&store, false).await;
        let status = |title: &str| {
            let n = items.iter().find(|n| n["title"] == title).unwrap();
            (
                n["deliveries"][0]["status"].clone(),
                n["deliveries"][0]["attempts"].clone(),
            )
        };
        assert_eq!(status("rejected"), (json!("failed"), json!(1)));
        assert_eq!(status("outage"), (json!("delivered"), json!(2)));
    }
}

mod web_push {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    use todo_local::push_service::LocalPushService;
    use todo_notifications::channels::push::{Push, TIMEOUT, vapid_key_pair, vapid_public_key};
    use todo_notifications::http::push::{subscribe, unsubscribe};

    const VAPID_SECRET: &str = "push-test-vapid-secret";

    /// A device subscribing at the local push service with the server's key, as a browser's
    /// `pushManager.subscribe({applicationServerKey})` does.
    async fn device(service: &LocalPushService, key: &str) -> Value {
        reqwest::Client::new()
            .post(format!("{}/subscriptions", service.origin()))
            .json(&json!({"applicationServerKey": key}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn sender<'a>(store: &'a InboxStore, secret: &str) -> Push<'a, InboxStore> {
        Push {
            http: reqwest::Client::builder().timeout(TIMEOUT).build().unwrap(),
            vapid: vapid_key_pair(secret).unwrap(),
            subject: "mailto:ops@todo.test".into(),
            store,
        }
    }

    async fn register(
        store: &InboxStore,
        hosts: &[String],
        user: &str,
        body: Value,
    ) -> todo_local::testing::apigw::Reply {
        read(
            subscribe(
                store,
                hosts,
                call("POST", "/push-subscriptions")
                    .user(user)
                    .json(body)
                    .request(),
            )
            .await,
        )
    }

    #[tokio::test]
    async fn a_reminder_reaches_every_device_encrypted_for_it_and_signed_for_the_service() {
        let (_engine, store) = inbox().await;
        let service = LocalPushService::start().await.unwrap();
        let hosts = vec![service.origin().to_string()];
        let key = vapid_public_key(&vapid_key_pair(VAPID_SECRET).unwrap());
        let (phone, laptop) = (device(&service, &key).await, device(&service, &key).await);
        for d in [&phone, &laptop] {
            let stored = register(&store, &hosts, ALICE, d.clone()).await;
            assert_eq!(stored.status, 201, "{}", stored.body);
        }
        let again = register(&store, &hosts, ALICE, phone.clone()).await;
        assert_eq!(again.status, 201, "the same endpoint again replaces it");
        let push = sender(&store, VAPID_SECRET);
        let event = reminder(ALICE, "Pack the bags");
        for _ in 0..2 {
            let r = deliver_batch(&store, &push, msk(vec![encoded(&event)]), later()).await;
            assert!(r.batch_item_failures.is_empty(), "{r:?}");
        }
        let received = service.received();
        assert_eq!(received.len(), 2, "each device once: {received:?}");
        for m in &received {
            assert_eq!(
                m.payload["title"], "Pack the bags",
                "decrypted by the device's key"
            );
            assert_eq!(m.payload["id"], event.id.to_string());
            assert_eq!(m.urgency.as_deref(), Some("high"));
        }
        let items = alices_notifications(&store, false).await;
        let pushed: Vec<&Value> = items[0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["channel"] == "push" && d["status"] == "delivered")
            .collect();
        assert_eq!(pushed.len(), 2, "one delivery per device");
    }

    #[tokio::test]
    async fn the_service_refuses_another_servers_signature() {
        let (_engine, store) = inbox().await;
        let service = LocalPushService::start().await.unwrap();
        let hosts = vec![service.origin().to_string()];
        let ours = vapid_public_key(&vapid_key_pair(VAPID_SECRET).unwrap());
        register(&store, &hosts, ALICE, device(&service, &ours).await).await;
        // Signed with another key than the one the device subscribed with: 403, final.
        let impostor = sender(&store, "another-servers-secret");
        let r = deliver_batch(
            &store,
            &impostor,
            msk(vec![encoded(&reminder(ALICE, "x"))]),
            later(),
        )
        .await;
        assert!(r.batch_item_failures.is_empty());
        assert!(service.received().is_empty());
        let items = alices_notifications(&store, false).await;
        assert_eq!(items[0]["deliveries"][0]["status"], "failed");
        assert!(
            items[0]["deliveries"][0]["last_error"]
                .as_str()
                .unwrap()
                .contains("403")
        );
    }

    #[tokio::test]
    async fn a_gone_subscription_is_dropped_on_410_and_outages_are_retried() {
        let (_engine, store) = inbox().await;
        let service = LocalPushService::start().await.unwrap();
        let hosts = vec![service.origin().to_string()];
        let key = vapid_public_key(&vapid_key_pair(VAPID_SECRET).unwrap());
        let phone = device(&service, &key).await;
        register(&store, &hosts, ALICE, phone.clone()).await;
        let push = sender(&store, VAPID_SECRET);

        service.far_end().answer(503);
        let first = reminder(ALICE, "during the outage");
        let r = deliver_batch(&store, &push, msk(vec![encoded(&first)]), later()).await;
        assert_eq!(r.batch_item_failures.len(), 1, "retried");
        service.far_end().answer(200);
        let r = deliver_batch(&store, &push, msk(vec![encoded(&first)]), later()).await;
        assert!(r.batch_item_failures.is_empty());
        assert_eq!(service.received().len(), 1);

        // The device unsubscribes at the service: the next push gets 410 and the
        // subscription is removed, so nothing is sent to it again.
        let endpoint = phone["endpoint"].as_str().unwrap();
        let id = endpoint.rsplit('/').next().unwrap();
        reqwest::Client::new()
            .delete(format!("{}/subscriptions/{id}", service.origin()))
            .send()
            .await
            .unwrap();
        let second = reminder(ALICE, "after unsubscribing");
        let r = deliver_batch(&store, &push, msk(vec![encoded(&second)]), later()).await;
        assert!(r.batch_item_failures.is_empty(), "410 is final");
        use todo_notifications::store::PushSubscriptions;
        assert_eq!(
            store.subscriptions(ALICE).await.unwrap(),
            vec![],
            "removed on 410"
        );
        assert_eq!(service.received().len(), 1);
    }

    #[tokio::test]
    async fn subscriptions_are_validated_limited_and_the_owners_own() {
        let (_engine, store) = inbox().await;
        let service = LocalPushService::start().await.unwrap();
        let hosts = vec![service.origin().to_string()];
        let key = vapid_public_key(&vapid_key_pair(VAPID_SECRET).unwrap());
        let good = device(&service, &key).await;
        let mut elsewhere = good.clone();
        elsewhere["endpoint"] = json!("https://169.254.169.254/latest/meta-data");
        let refused = register(&store, &hosts, ALICE, elsewhere).await;
        assert_eq!(refused.status, 422);
        assert_eq!(refused.body["errors"][0]["field"], "endpoint");
        let mut short = good.clone();
        short["keys"]["auth"] = json!("c2hvcnQ");
        assert_eq!(register(&store, &hosts, ALICE, short).await.status, 422);
        // 65 bytes of the right form, but no point of P-256: refused, not stored to fail later.
        let mut off_curve = good.clone();
        let mut point = vec![4u8];
        point.extend([1u8; 64]);
        off_curve["keys"]["p256dh"] = json!(B64URL.encode(point));
        let refused = register(&store, &hosts, ALICE, off_curve).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], "keys.p256dh");

        let stored = register(&store, &hosts, ALICE, good.clone()).await;
        let id = stored.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            stored.header("location"),
            Some(format!("/push-subscriptions/{id}").as_str())
        );
        let bobs = read(
            unsubscribe(
                &store,
                call("DELETE", format!("/push-subscriptions/{id}"))
                    .user(BOB)
                    .request(),
            )
            .await,
        );
        assert_eq!(bobs.status, 404, "not bob's");
        for _ in 0..9 {
            let d = device(&service, &key).await;
            assert_eq!(register(&store, &hosts, ALICE, d).await.status, 201);
        }
        let eleventh = register(&store, &hosts, ALICE, device(&service, &key).await).await;
        assert_eq!(eleventh.status, 409, "{}", eleventh.body);
        let mine = read(
            unsubscribe(
                &store,
                call("DELETE", format!("/push-subscriptions/{id}")).request(),
            )
            .await,
        );
        assert_eq!(mine.status, 204);
        let twice = read(
            unsubscribe(
                &store,
                call("DELETE", format!("/push-subscriptions/{id}")).request(),
            )
            .await,
        );
        assert_eq!(twice.status, 404);
    }

    /// One device's push service being down holds only that device: the other owner's
    /// reminder in the same batch is pushed at once, and the batch reports the first record.
    #[tokio::test]
    async fn a_dead_push_service_holds_only_its_own_device() {
        use todo_notifications::store::PushSubscriptions;
        let (_engine, store) = inbox().await;
        let service = LocalPushService::start().await.unwrap();
        let hosts = vec![service.origin().to_string()];
        let key = vapid_public_key(&vapid_key_pair(VAPID_SECRET).unwrap());
        register(&store, &hosts, BOB, device(&service, &key).await).await;
        // Alice's device is on a push service that no longer answers (stored directly: the
        // API would refuse its host).
        let mut dead = device(&service, &key).await;
        dead["endpoint"] = json!("http://127.0.0.1:1/push/gone");
        let dead: todo_schema::push::NewPushSubscription = serde_json::from_value(dead).unwrap();
        store
            .subscribe(&dead.into_subscription(ALICE, Timestamp::now()))
            .await
            .unwrap();
        let push = sender(&store, VAPID_SECRET);
        let batch = msk(vec![
            encoded(&reminder(ALICE, "held")),
            encoded(&reminder(BOB, "not held")),
        ]);
        let r = deliver_batch(&store, &push, batch, later()).await;
        // Kafka commits up to the first unfinished record: both are redelivered, and bob's,
        // already delivered, is skipped then.
        assert_eq!(offsets(r), [0, 1], "retried from alice's reminder on");
        let received = service.received();
        assert_eq!(received.len(), 1, "bob's was pushed in the same batch");
        assert_eq!(received[0].payload["title"], "not held");
    }
}

/// A channel's parked deliveries spread over its lanes (no one index partition takes a whole
/// 7:00), and a drain finds every one due, with those parked by a release before the lanes.
#[tokio::test]
async fn parked_deliveries_spread_over_lanes_and_a_drain_finds_each_once() {
    use todo_notifications::channels::parked::Drain;
    use todo_notifications::store::{Lane, PARK_LANES, Parking};
    use todo_schema::notification::Channel;

    let (engine, store) = inbox().await;
    let channel = Channel::Email;
    let at: Timestamp = "2031-01-01T07:00:00Z".parse().unwrap();
    let events: Vec<EventEnvelope> = (0..64)
        .map(|i| reminder([ALICE, BOB][i % 2], &format!("r{i}")))
        .collect();
    for e in &events {
        store.park(channel, e, at).await.unwrap();
    }
    // One parked before the lanes: its index key is the channel's alone.
    let legacy = reminder(ALICE, "parked by an earlier release");
    store.park(channel, &legacy, at).await.unwrap();
    engine
        .client()
        .await
        .update_item()
        .table_name("NotificationsTable")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{ALICE}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("PARK#email#{}", legacy.id)),
        )
        .update_expression("SET park_pk = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S("PARK#email".into()),
        )
        .send()
        .await
        .unwrap();
    let mut per_lane = Vec::new();
    for lane in Lane::all() {
        let page = store
            .parked::<EventEnvelope>(channel, lane, at, 1_000, None)
            .await
            .unwrap();
        per_lane.push(page.items.len());
    }
    assert_eq!(per_lane.len(), PARK_LANES as usize + 1);
    assert_eq!(
        per_lane[PARK_LANES as usize], 1,
        "the earlier release's key"
    );
    let most = per_lane[..PARK_LANES as usize].iter().max().unwrap();
    assert!(
        per_lane[..PARK_LANES as usize].iter().all(|n| *n > 0) && *most <= 64 / 2,
        "64 parks spread over the lanes: {per_lane:?}"
    );
    // Before their time nothing is due; at it, every one once.
    let mut early = Drain::new(
        &store,
        channel,
        at.before(std::time::Duration::from_secs(1)),
        later(),
    );
    while let Some(page) = early.next_page::<EventEnvelope>().await.unwrap() {
        assert!(page.is_empty(), "nothing due before 7:00");
    }
    let mut drain = Drain::new(&store, channel, at, later());
    let mut found = Vec::new();
    while let Some(page) = drain.next_page::<EventEnvelope>().await.unwrap() {
        found.extend(page.into_iter().map(|p| p.content.id));
    }
    let mut expected: Vec<Uuid> = events.iter().chain([&legacy]).map(|e| e.id).collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
}

// A module of this test binary (a file in tests/ itself would be a binary of its own).
#[path = "notifications/user_webhooks.rs"]
mod user_webhooks;
