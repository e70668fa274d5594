//! Users' own webhooks: the routes, and the channel against real receivers on 127.0.0.1 and
//! the embedded DynamoDB.

use serde_json::{Value, json};
use todo_lambda::cursor::CursorCodec;
use todo_local::testing::apigw::{ALICE, BOB, call, read};
use todo_local::webhook::{Received, WebhookReceiver};
use todo_notifications::channels::public_dns::keep_public;
use todo_notifications::channels::serving::ChannelFunction;
use todo_notifications::channels::user_webhooks::{
    UserWebhookChannel, client, client_resolving_with,
};
use todo_notifications::http::webhooks::{
    create_webhook, delete_webhook, list_deliveries, list_webhooks,
};
use todo_notifications::store::InboxStore;
use todo_schema::webhook::verify;
use todo_schema::{Actor, EventEnvelope, EventPayload, NewTask, TaskId, Timestamp};
use uuid::Uuid;

use super::{encoded, inbox, later, msk, reminder};

fn origin(receiver: &WebhookReceiver) -> String {
    receiver.url().trim_end_matches("/hook").to_string()
}

fn cursors() -> CursorCodec {
    CursorCodec::new(b"webhooks-test-signing-key-0123456789".to_vec())
}

async fn register(
    store: &InboxStore,
    origins: &[String],
    user: &str,
    body: Value,
) -> todo_local::testing::apigw::Reply {
    read(
        create_webhook(
            store,
            origins,
            call("POST", "/webhooks").user(user).json(body).request(),
        )
        .await,
    )
}

async fn log(store: &InboxStore, user: &str, id: &str) -> todo_local::testing::apigw::Reply {
    read(
        list_deliveries(
            store,
            &cursors(),
            call("GET", format!("/webhooks/{id}/deliveries"))
                .user(user)
                .request(),
        )
        .await,
    )
}

fn task_created(owner: &str, title: &str) -> EventEnvelope {
    let cmd: NewTask = serde_json::from_value(json!({"title": title})).unwrap();
    let task = cmd
        .into_task(TaskId::generate(), owner, Timestamp::now())
        .unwrap();
    EventEnvelope::new(
        Uuid::now_v7(),
        task.id,
        Timestamp::now(),
        EventPayload::TaskCreated {
            actor: Actor::User { id: owner.into() },
            task,
        },
    )
}

fn at_path<'a>(received: &'a [Received], path: &str) -> Vec<&'a Received> {
    received.iter().filter(|r| r.path == path).collect()
}

fn channel<'a>(store: &'a InboxStore, origins: &[String]) -> UserWebhookChannel<'a, InboxStore> {
    UserWebhookChannel {
        store,
        client: client().unwrap(),
        private_origins: origins.to_vec(),
    }
}

fn in_minutes(minutes: i64) -> Timestamp {
    Timestamp::now().plus_minutes(minutes).unwrap()
}

#[tokio::test]
async fn webhooks_are_the_callers_own_validated_limited_and_their_secret_shown_once() {
    let (_engine, store) = inbox().await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let origins = vec![origin(&receiver)];
    let created = register(
        &store,
        &origins,
        ALICE,
        json!({"url": format!("{}/alice", origins[0]), "task_events": true}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.header("location"),
        Some(format!("/webhooks/{id}").as_str())
    );
    let other = register(
        &store,
        &origins,
        ALICE,
        json!({"url": format!("{}/alice2", origins[0])}),
    )
    .await;
    assert_ne!(
        other.body["secret"], created.body["secret"],
        "each webhook its own secret"
    );

    let listed = read(list_webhooks(&store, call("GET", "/webhooks").request()).await);
    assert_eq!(listed.status, 200);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items.iter().all(|i| i.get("secret").is_none()),
        "a list never shows secrets: {items:?}"
    );
    assert_eq!(items[0]["task_events"], true);
    let bobs = read(list_webhooks(&store, call("GET", "/webhooks").user(BOB).request()).await);
    assert_eq!(bobs.body["items"], json!([]));

    for (body, field) in [
        (json!({"url": "http://hooks.example.com/x"}), "url"),
        (json!({"url": "https://169.254.169.254/latest"}), "url"),
        (json!({"url": "https://localhost/x"}), "url"),
        (json!({"url": "https://u:p@hooks.example.com/x"}), "url"),
        (
            json!({"url": format!("{}/x", origins[0]).replace("127.0.0.1", "127.0.0.2")}),
            "url",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "secret": "mine"}),
            "secret",
        ),
        (json!({"url": 7}), "url"),
        (json!({}), "url"),
    ] {
        let refused = register(&store, &origins, ALICE, body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.body);
        assert_eq!(refused.error_fields(), [field], "{body}: {}", refused.body);
    }
    for i in 2..5 {
        let ok = register(
            &store,
            &origins,
            ALICE,
            json!({"url": format!("https://hook{i}.example.com/x")}),
        )
        .await;
        assert_eq!(ok.status, 201, "{}", ok.body);
    }
    let sixth = register(
        &store,
        &origins,
        ALICE,
        json!({"url": "https://hook6.example.com/x"}),
    )
    .await;
    assert_eq!(sixth.status, 409, "{}", sixth.body);

    assert_eq!(
        log(&store, BOB, &id).await.status,
        404,
        "another's log is a 404"
    );
    assert_eq!(log(&store, ALICE, "not-a-uuid").await.status, 404);
    let empty = log(&store, ALICE, &id).await;
    assert_eq!(
        (empty.status, empty.body["items"].clone()),
        (200, json!([]))
    );
    let delete = |user: &'static str| {
        let (store, id) = (&store, id.clone());
        async move {
            read(
                delete_webhook(
                    store,
                    call("DELETE", format!("/webhooks/{id}"))
                        .user(user)
                        .request(),
                )
                .await,
            )
        }
    };
    assert_eq!(delete(BOB).await.status, 404);
    assert_eq!(delete(ALICE).await.status, 204);
    assert_eq!(delete(ALICE).await.status, 404);
    assert_eq!(
        log(&store, ALICE, &id).await.status,
        404,
        "no log once deleted"
    );
    let anonymous =
        read(list_webhooks(&store, call("GET", "/webhooks").anonymous().request()).await);
    assert_eq!(anonymous.status, 401);
    let query = read(
        list_webhooks(
            &store,
            call("GET", "/webhooks").query("limit", "1").request(),
        )
        .await,
    );
    assert_eq!(query.status, 400);
}

/// Each webhook gets what it asked for, once, signed with its own secret: reminders always,
/// task events only where chosen, and only its owner's.
#[tokio::test]
async fn each_webhook_gets_its_owners_reminders_and_chosen_task_events_once() {
    let (_engine, store) = inbox().await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let origins = vec![origin(&receiver)];
    let mut secrets = std::collections::HashMap::new();
    for (user, path, task_events) in [(ALICE, "/a", false), (ALICE, "/b", true), (BOB, "/c", true)]
    {
        let r = register(
            &store,
            &origins,
            user,
            json!({"url": format!("{}{path}", origins[0]), "task_events": task_events}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        secrets.insert(
            path,
            (
                r.body["secret"].as_str().unwrap().to_string(),
                r.body["id"].as_str().unwrap().to_string(),
            ),
        );
    }
    let alices_reminder = reminder(ALICE, "Call the bank");
    let alices_change = task_created(ALICE, "A new task");
    let bobs_reminder = reminder(BOB, "Bob's");
    let batch = || {
        msk(vec![
            encoded(&alices_reminder),
            encoded(&alices_change),
            encoded(&bobs_reminder),
        ])
    };
    let channel = channel(&store, &origins);
    for _ in 0..2 {
        let r = channel.batch(batch(), later()).await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
    }
    let received = receiver.received();
    let (a, b, c) = (
        at_path(&received, "/a"),
        at_path(&received, "/b"),
        at_path(&received, "/c"),
    );
    let ids = |rs: &[&Received]| -> Vec<String> {
        rs.iter()
            .map(|r| r.headers["x-todo-delivery"].clone())
            .collect()
    };
    assert_eq!(
        ids(&a),
        [alices_reminder.id.to_string()],
        "reminders only, once"
    );
    let mut b_ids = ids(&b);
    b_ids.sort();
    let mut expected = vec![alices_reminder.id.to_string(), alices_change.id.to_string()];
    expected.sort();
    assert_eq!(b_ids, expected, "reminders and task events, once each");
    assert_eq!(ids(&c), [bobs_reminder.id.to_string()], "bob's only");
    for (path, rs) in [("/a", &a), ("/b", &b), ("/c", &c)] {
        let (secret, _) = &secrets[path];
        for r in rs.iter() {
            let ts: i64 = r.headers["x-todo-timestamp"].parse().unwrap();
            verify(
                secret.as_bytes(),
                ts,
                &r.body,
                &r.headers["x-todo-signature"],
                ts,
                300,
            )
            .unwrap_or_else(|e| panic!("{path}: {e}"));
            let other = if path == "/a" {
                &secrets["/c"].0
            } else {
                &secrets["/a"].0
            };
            assert!(
                verify(
                    other.as_bytes(),
                    ts,
                    &r.body,
                    &r.headers["x-todo-signature"],
                    ts,
                    300
                )
                .is_err()
            );
        }
    }
    let change = b
        .iter()
        .find(|r| r.headers["x-todo-event"] == "task.created")
        .unwrap();
    let body: Value = serde_json::from_slice(&change.body).unwrap();
    assert_eq!(
        body["specversion"], "1.0",
        "a task event is its CloudEvents envelope"
    );
    assert_eq!(body["data"]["task"]["title"], "A new task");
    let reminder_body: Value = serde_json::from_slice(&a[0].body).unwrap();
    assert_eq!(
        reminder_body["title"], "Call the bank",
        "a reminder is the notification JSON"
    );

    let entries = log(&store, ALICE, &secrets["/b"].1).await;
    assert_eq!(entries.status, 200, "{}", entries.body);
    let items = entries.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items.iter().all(|e| e["status"] == "delivered"
            && e["attempts"] == 1
            && e["last_status_code"] == 200),
        "{items:?}"
    );
    let first = read(
        list_deliveries(
            &store,
            &cursors(),
            call("GET", format!("/webhooks/{}/deliveries", secrets["/b"].1))
                .query("limit", "1")
                .request(),
        )
        .await,
    );
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    assert!(first.body["next_cursor"].is_string(), "{}", first.body);
}

/// Alice's webhook is down: Bob's deliveries go out at once and the partition moves on;
/// Alice's is tried once in the batch, logged as retrying, parked, and sent by the drain once
/// her receiver is back, once. A webhook deleted meanwhile gets nothing more.
#[tokio::test]
async fn a_failing_webhook_holds_only_itself_and_catches_up_from_the_drain() {
    let (_engine, store) = inbox().await;
    let down = WebhookReceiver::start().await.unwrap();
    let up = WebhookReceiver::start().await.unwrap();
    let origins = vec![origin(&down), origin(&up)];
    let alices = register(
        &store,
        &origins,
        ALICE,
        json!({"url": format!("{}/alice", origins[0])}),
    )
    .await;
    let bobs = register(
        &store,
        &origins,
        BOB,
        json!({"url": format!("{}/bob", origins[1])}),
    )
    .await;
    let alices_id = alices.body["id"].as_str().unwrap().to_string();
    down.answer(503);
    let events: Vec<EventEnvelope> = (0..10)
        .map(|i| reminder(if i % 2 == 0 { ALICE } else { BOB }, &format!("r{i}")))
        .collect();
    let channel = channel(&store, &origins);
    let r = channel
        .batch(msk(events.iter().map(encoded).collect()), later())
        .await;
    assert!(
        r.batch_item_failures.is_empty(),
        "a user's URL never holds the partition: {r:?}"
    );
    assert_eq!(up.received().len(), 5, "bob's all went out at once");
    assert_eq!(
        down.received().len(),
        1,
        "a failed webhook is not tried again within the batch"
    );
    let entries = log(&store, ALICE, &alices_id).await;
    let first = &entries.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(first["status"], "retrying");
    assert_eq!(first["last_status_code"], 503);
    assert!(first["next_attempt_at"].as_str().unwrap() > Timestamp::now().to_string().as_str());

    // Not due yet: nothing sent.
    let early = channel.drain(Timestamp::now(), later()).await.unwrap();
    assert_eq!(early.settled, 0);
    assert_eq!(down.received().len(), 1);

    down.answer(200);
    let done = channel.drain(in_minutes(2), later()).await.unwrap();
    assert_eq!(
        (done.settled, done.parked_again, done.left),
        (5, 0, 0),
        "{done:?}"
    );
    let mut got: Vec<String> = at_path(&down.received(), "/alice")
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.headers["x-todo-delivery"].clone())
        .collect();
    got.sort();
    let mut want: Vec<String> = events.iter().step_by(2).map(|e| e.id.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "every one of alice's, once");
    let again = channel.drain(in_minutes(2), later()).await.unwrap();
    assert_eq!(again.settled, 0, "taken off once sent");
    let r = channel
        .batch(msk(events.iter().map(encoded).collect()), later())
        .await;
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(
        up.received().len(),
        5,
        "a redelivered batch sends nothing twice"
    );
    assert_eq!(
        down.received().iter().filter(|r| r.status == 200).count(),
        5
    );
    let entries = log(&store, ALICE, &alices_id).await;
    let first = entries.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (first["status"].clone(), first["attempts"].clone()),
        (json!("delivered"), json!(2))
    );

    // Bob deletes his webhook while a delivery to it is being retried: nothing more goes.
    up.answer(500);
    let late = reminder(BOB, "after");
    channel.batch(msk(vec![encoded(&late)]), later()).await;
    let tried = up.received().len();
    let bobs_id = bobs.body["id"].as_str().unwrap();
    let deleted = read(
        delete_webhook(
            &store,
            call("DELETE", format!("/webhooks/{bobs_id}"))
                .user(BOB)
                .request(),
        )
        .await,
    );
    assert_eq!(deleted.status, 204);
    up.answer(200);
    let drained = channel.drain(in_minutes(5), later()).await.unwrap();
    assert_eq!(drained.settled, 1, "settled: no webhook wants it any more");
    assert_eq!(up.received().len(), tried);
}

/// A webhook that stays down is retried for a day, then its log says failed with the reason;
/// a refusal (a 4xx) is failed at once. A URL no longer admitted is refused at send time.
#[tokio::test]
async fn retries_end_after_a_day_and_refusals_at_once() {
    let (_engine, store) = inbox().await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let origins = vec![origin(&receiver)];
    let hook = register(
        &store,
        &origins,
        ALICE,
        json!({"url": format!("{}/alice", origins[0])}),
    )
    .await;
    let id = hook.body["id"].as_str().unwrap().to_string();
    let channel = channel(&store, &origins);
    receiver.answer(502);
    let event = reminder(ALICE, "for a day");
    channel.batch(msk(vec![encoded(&event)]), later()).await;
    let report = channel.drain(in_minutes(25 * 60), later()).await.unwrap();
    assert_eq!(report.settled, 1, "settled: failed for good");
    let entries = log(&store, ALICE, &id).await;
    let entry = &entries.body["items"][0];
    assert_eq!(entry["status"], "failed");
    assert_eq!(entry["attempts"], 2);
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 24 h"),
        "{entry}"
    );

    receiver.answer(410);
    let refused = reminder(ALICE, "gone");
    channel.batch(msk(vec![encoded(&refused)]), later()).await;
    let entries = log(&store, ALICE, &id).await;
    let entry = &entries.body["items"][0];
    assert_eq!(
        (entry["status"].clone(), entry["attempts"].clone()),
        (json!("failed"), json!(1))
    );
    assert_eq!(
        channel
            .drain(in_minutes(60), later())
            .await
            .unwrap()
            .settled,
        0,
        "nothing parked"
    );

    // The operator stops admitting the receiver's origin: the stored URL is refused when sent.
    receiver.answer(200);
    let strict = UserWebhookChannel {
        store: &store,
        client: client().unwrap(),
        private_origins: vec![],
    };
    let before = receiver.received().len();
    strict
        .batch(msk(vec![encoded(&reminder(ALICE, "strict"))]), later())
        .await;
    assert_eq!(receiver.received().len(), before, "never sent");
    let entries = log(&store, ALICE, &id).await;
    let entry = &entries.body["items"][0];
    assert_eq!(entry["status"], "failed");
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .starts_with("url refused"),
        "{entry}"
    );
}

/// A DNS that answers an address inside the network for every name (as a name rebound to the
/// VPC would), kept to public ones as the channel's resolver keeps them.
struct InsideDns;

impl reqwest::dns::Resolve for InsideDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let answer = [std::net::SocketAddr::from(([10, 0, 0, 7], 443))];
        let found = keep_public(name.as_str(), answer);
        Box::pin(async move { Ok(Box::new(found?.into_iter()) as reqwest::dns::Addrs) })
    }
}

/// Found by an outside tester: a webhook whose name resolves only to inside addresses was
/// logged `retrying` for a day; it is `failed` at once, saying why, and never parked.
#[tokio::test]
async fn a_webhook_whose_name_resolves_only_inside_fails_at_once_saying_why() {
    let (_engine, store) = inbox().await;
    let hook = register(
        &store,
        &[],
        ALICE,
        json!({"url": "https://hooks.example.net/alice"}),
    )
    .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let id = hook.body["id"].as_str().unwrap().to_string();
    let channel = UserWebhookChannel {
        store: &store,
        client: client_resolving_with(std::sync::Arc::new(InsideDns)).unwrap(),
        private_origins: vec![],
    };
    let failed = channel
        .batch(msk(vec![encoded(&reminder(ALICE, "inside"))]), later())
        .await;
    assert!(failed.batch_item_failures.is_empty());
    let entries = log(&store, ALICE, &id).await;
    let entry = &entries.body["items"][0];
    assert_eq!(
        (
            entry["status"].clone(),
            entry["attempts"].clone(),
            entry["next_attempt_at"].clone()
        ),
        (json!("failed"), json!(1), Value::Null),
        "{entry}"
    );
    assert_eq!(
        entry["last_error"],
        "webhook not reached: hooks.example.net resolves only to addresses that are not public \
         (private, loopback, link-local or reserved)"
    );
    let report = channel.drain(in_minutes(24 * 60), later()).await.unwrap();
    assert_eq!(
        (report.settled, report.parked_again),
        (0, 0),
        "nothing parked"
    );
}

/// Twelve registrations of one user at once: exactly five stored, the rest told the limit is
/// reached (never a false 409 while there is room, never six); a removal makes room again.
#[tokio::test]
async fn the_limit_holds_exactly_when_registrations_race() {
    let (_engine, store) = inbox().await;
    let origins: Vec<String> = vec![];
    let answers = futures_util::future::join_all((0..12).map(|i| {
        let (store, origins) = (&store, &origins);
        async move {
            register(
                store,
                origins,
                ALICE,
                json!({"url": format!("https://hook{i}.example.com/x")}),
            )
            .await
            .status
        }
    }))
    .await;
    let created = answers.iter().filter(|s| **s == 201).count();
    let listed = read(list_webhooks(&store, call("GET", "/webhooks").request()).await);
    let items = listed.body["items"].as_array().unwrap().clone();
    assert_eq!((created, items.len()), (5, 5), "{answers:?}");
    assert!(
        answers.iter().all(|s| [201, 409].contains(s)),
        "{answers:?}"
    );
    let id = items[0]["id"].as_str().unwrap();
    let removed =
        read(delete_webhook(&store, call("DELETE", format!("/webhooks/{id}")).request()).await);
    assert_eq!(removed.status, 204);
    let again = register(
        &store,
        &origins,
        ALICE,
        json!({"url": "https://hook-again.example.com/x"}),
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.body);
    let sixth = register(
        &store,
        &origins,
        ALICE,
        json!({"url": "https://hook-six.example.com/x"}),
    )
    .await;
    assert_eq!(sixth.status, 409);
}
