//! Real-time task updates through the local cloud's WebSocket API, with the real binaries: the
//! `$connect` authorizer (the HTTP API's tokens, verified against the local issuer's JWKS), the
//! connections table, and the realtime consumer posting each task event through the
//! Management API.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use todo_e2e::socket::{Socket, Token};
use todo_e2e::{Api, DataDir, eventually, id, start};
use todo_local::auth::LocalAuthorizer;

/// The events of `task` a socket receives, until `n` have come (within 20 s).
async fn events_of(socket: &mut Socket, task: &str, n: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < n {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(message) = socket.next_json(left).await else {
            panic!(
                "only {} of {n} events of {task} arrived: {seen:?}",
                seen.len()
            );
        };
        if message["subject"] == task {
            seen.push(message);
        }
    }
    seen
}

#[tokio::test]
async fn a_users_changes_reach_each_of_their_connections_in_order_and_nobody_elses() {
    let data = DataDir::new("realtime-fanout");
    let cloud = start(&data).await;
    let url = cloud
        .websocket_url
        .clone()
        .expect("the template declares a WebSocket API");
    let alice = Api::new(&cloud, "alice");
    let token = cloud.auth.token("alice", 1);
    let mut phone = Socket::connect(&url, Token::Header(&token))
        .await
        .expect("header token");
    let mut browser = Socket::connect(&url, Token::Query(&token))
        .await
        .expect("query token");
    let bob_token = cloud.auth.token("bob", 1);
    let mut bob = Socket::connect(&url, Token::Query(&bob_token))
        .await
        .expect("bob connects");

    let task = alice.create(json!({"title": "Live"})).await;
    let path = format!("/tasks/{}", id(&task));
    for title in ["Live 2", "Live 3"] {
        let patched = alice
            .call("PATCH", &path, Some(json!({"title": title})), None)
            .await;
        assert_eq!(patched.status, 200);
    }
    for socket in [&mut phone, &mut browser] {
        let events = events_of(socket, &id(&task), 3).await;
        let kinds: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["task.created", "task.updated", "task.updated"]);
        let versions: Vec<_> = events
            .iter()
            .map(|e| e["data"]["task"]["version"].clone())
            .collect();
        assert_eq!(versions, [json!(1), json!(2), json!(3)], "in order");
        // The message is the CloudEvents envelope a Kafka reader sees.
        assert_eq!(events[0]["specversion"], "1.0");
        assert_eq!(events[2]["data"]["before"]["title"], "Live 2");
    }
    assert!(
        bob.next_json(Duration::from_secs(2)).await.is_none(),
        "another user's connection gets nothing"
    );

    // A ping is answered on the same connection; anything else gets a hint, and the
    // connection stays open.
    phone.send(r#"{"action":"ping"}"#).await;
    assert_eq!(
        phone.next_json(Duration::from_secs(10)).await,
        Some(json!({"type": "pong"}))
    );
    phone.send("not json").await;
    let hint = phone.next_json(Duration::from_secs(10)).await.unwrap();
    assert_eq!(hint["type"], "error", "{hint}");
    phone.send(r#"{"action":"subscribe"}"#).await;
    assert_eq!(
        phone.next_json(Duration::from_secs(10)).await.unwrap()["type"],
        "error"
    );
    phone.send(r#"{"action":"ping"}"#).await;
    assert_eq!(
        phone.next_json(Duration::from_secs(10)).await,
        Some(json!({"type": "pong"}))
    );

    // A closed connection is forgotten ($disconnect): the next change reaches the other only.
    let table = cloud.dynamo.client().await;
    let count = |user: &'static str| {
        let table = table.clone();
        async move {
            table
                .query()
                .table_name("ConnectionsTable")
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")))
                .send()
                .await
                .unwrap()
                .count() as usize
        }
    };
    assert_eq!(count("alice").await, 2);
    phone.close().await;
    eventually("the closed connection removed", || async {
        (count("alice").await == 1).then_some(())
    })
    .await;
    alice
        .call("POST", &format!("{path}/complete"), None, None)
        .await;
    let done = events_of(&mut browser, &id(&task), 1).await;
    assert_eq!(done[0]["type"], "task.completed");
}

#[tokio::test]
async fn a_connection_that_is_gone_is_dropped_on_410_but_a_new_one_is_not() {
    let data = DataDir::new("realtime-gone");
    let cloud = start(&data).await;
    let url = cloud.websocket_url.clone().unwrap();
    let alice = Api::new(&cloud, "alice");
    let table = cloud.dynamo.client().await;
    let item = |id: &str, at: chrono::DateTime<chrono::Utc>| {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S("USER#alice".into())),
            ("sk".to_string(), AttributeValue::S(format!("CONN#{id}"))),
            ("connection_id".to_string(), AttributeValue::S(id.into())),
            (
                "connected_at".to_string(),
                AttributeValue::S(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ),
        ])
    };
    // A connection that vanished without its $disconnect (an old one), and one whose
    // $connect is still completing (recorded just now): both answer 410.
    let now = chrono::Utc::now();
    for (id, at) in [
        ("vanished=", now - chrono::Duration::minutes(5)),
        ("connecting=", now + chrono::Duration::seconds(60)),
    ] {
        table
            .put_item()
            .table_name("ConnectionsTable")
            .set_item(Some(item(id, at)))
            .send()
            .await
            .unwrap();
    }
    let token = cloud.auth.token("alice", 1);
    let mut live = Socket::connect(&url, Token::Header(&token)).await.unwrap();
    let task = alice.create(json!({"title": "Who is there"})).await;
    events_of(&mut live, &id(&task), 1).await;
    let keys = || {
        let table = table.clone();
        async move {
            let out = table
                .query()
                .table_name("ConnectionsTable")
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S("USER#alice".into()))
                .send()
                .await
                .unwrap();
            let mut ids: Vec<String> = out
                .items()
                .iter()
                .map(|i| i["connection_id"].as_s().unwrap().clone())
                .collect();
            ids.sort();
            ids
        }
    };
    let left = eventually("the vanished connection dropped", || async {
        let ids = keys().await;
        (!ids.contains(&"vanished=".to_string())).then_some(ids)
    })
    .await;
    assert_eq!(
        left.len(),
        2,
        "the live one and the one still connecting stay: {left:?}"
    );
    assert!(left.contains(&"connecting=".to_string()));
}

#[tokio::test]
async fn connect_refuses_bad_expired_and_foreign_tokens_with_401() {
    let data = DataDir::new("realtime-auth");
    let cloud = start(&data).await;
    let url = cloud.websocket_url.clone().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": "alice", "iss": cloud.auth.issuer(), "aud": "todo-local", "iat": now - 10, "exp": exp});
    let expired = cloud.auth.sign(&claims(now - 1));
    let wrong_audience = cloud.auth.sign(
        &json!({"sub": "alice", "iss": cloud.auth.issuer(), "aud": "other", "exp": now + 600}),
    );
    let no_subject = cloud
        .auth
        .sign(&json!({"iss": cloud.auth.issuer(), "aud": "todo-local", "exp": now + 600}));
    // Another issuer: another key pair (and kid), claiming this issuer's name.
    let elsewhere =
        std::env::temp_dir().join(format!("todo-e2e-foreign-issuer-{}", std::process::id()));
    let foreign = LocalAuthorizer::load_or_create(&elsewhere, cloud.auth.issuer()).unwrap();
    let forged = foreign.sign(&claims(now + 600));
    // The real issuer's key, but another issuer's name.
    let other_name = cloud.auth.sign(&json!({"sub": "alice", "iss": "https://accounts.example", "aud": "todo-local", "exp": now + 600}));
    for (why, token) in [
        ("garbage", Token::Query("not-a-jwt")),
        ("expired", Token::Header(&expired)),
        ("wrong audience", Token::Query(&wrong_audience)),
        ("no subject", Token::Header(&no_subject)),
        ("foreign key", Token::Header(&forged)),
        ("foreign issuer", Token::Query(&other_name)),
        ("none", Token::None),
    ] {
        match Socket::connect(&url, token).await {
            Err(status) => assert_eq!(status, 401, "{why}"),
            Ok(_) => panic!("{why}: connected"),
        }
    }
    let _ = std::fs::remove_dir_all(&elsewhere);
    // Nothing was recorded for the refused.
    let table = cloud.dynamo.client().await;
    let scan = table
        .scan()
        .table_name("ConnectionsTable")
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count(), 0);
    // And the same token the HTTP API takes connects.
    let token = cloud.auth.token("alice", 1);
    assert!(Socket::connect(&url, Token::Query(&token)).await.is_ok());
}

/// #21 item 4: one user's volume never delays another's real-time messages. Mallory holds ten
/// connections she never reads and changes her tasks 14 times a second with 4,000-character
/// notes (each change posted to every one of her connections); meanwhile alice, with one
/// connection, changes her task once a second. Before the realtime channel served owners side by
/// side, alice waited 12-19 s. Here the flood saturates both cores of the machine (the debug
/// binaries and the emulators in this test's process), which AWS's per-function CPU does not:
/// alone, alice's messages take 0.3-0.5 s, during the flood 0.7-1.5 s on a quiet machine and
/// 2.0-2.9 s in a CI run on the same machine (printed on each run). That is contention, not
/// queueing: queued behind mallory's posts, alice waited 12-19 s. The bound asserted, 5 s, sits
/// between the two, so the test fails on queueing and not on a busy machine; the one-second
/// promise itself is a measurement (docs/capacity.md), not a timed assertion.
#[tokio::test]
async fn a_heavy_user_with_unread_connections_never_delays_another_users_messages() {
    let data = DataDir::new("realtime-fair");
    let cloud = start(&data).await;
    let url = cloud.websocket_url.clone().expect("a WebSocket API");
    let mallory = Api::new(&cloud, "mallory");
    let token = cloud.auth.token("mallory", 1);
    let mut unread = Vec::new();
    for _ in 0..10 {
        unread.push(
            Socket::connect(&url, Token::Query(&token))
                .await
                .expect("mallory connects"),
        );
    }
    let alice = Api::new(&cloud, "alice");
    let mut socket = Socket::connect(&url, Token::Query(&cloud.auth.token("alice", 1)))
        .await
        .expect("alice connects");
    let task = alice.create(json!({"title": "mine"})).await;
    let path = format!("/tasks/{}", id(&task));
    events_of(&mut socket, &id(&task), 1).await;
    // How long alice's change takes to reach her when nobody else is busy.
    let mut quiet = Vec::new();
    for n in 0..4 {
        quiet.push(change_and_wait(&alice, &path, &mut socket, &format!("quiet {n}")).await);
    }

    let mut tasks = Vec::new();
    for i in 0..5 {
        tasks.push(id(&mallory
            .create(json!({"title": format!("flood {i}")}))
            .await));
    }
    let note = "x".repeat(4000);
    // Fired on the clock, each change in flight on its own, so the rate holds however long
    // each takes.
    let flood = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut every = tokio::time::interval(Duration::from_millis(1000 / 14));
        let mut changes = tokio::task::JoinSet::new();
        for n in 0..14 * 20 {
            every.tick().await;
            let task = tasks[n % tasks.len()].clone();
            let change = json!({"title": format!("flood {n}"), "notes": note});
            let mallory = mallory.clone();
            changes.spawn(async move {
                mallory
                    .call("PATCH", &format!("/tasks/{task}"), Some(change), None)
                    .await
            });
        }
        let fired = started.elapsed();
        while let Some(answer) = changes.join_next().await {
            let answer = answer.unwrap();
            // Two changes of one task at once: the later may find the task busy (409/503 are
            // the documented answers of a conflicting write); none is a 5xx of ours otherwise.
            assert!(
                answer.status < 500 || answer.status == 503,
                "{} {}",
                answer.status,
                answer.body
            );
        }
        fired
    });

    let mut delays = Vec::new();
    // The flood under way (its first changes published and posted).
    tokio::time::sleep(Duration::from_secs(2)).await;
    for n in 0..8 {
        let started = tokio::time::Instant::now();
        delays.push(change_and_wait(&alice, &path, &mut socket, &format!("mine {n}")).await);
        tokio::time::sleep_until(started + Duration::from_secs(1)).await;
    }
    assert!(
        !flood.is_finished(),
        "alice's changes all fell within the flood: {delays:?}"
    );
    let flooded = flood.await.unwrap();
    eprintln!(
        "alice's change to message: alone {quiet:?}, during the flood {delays:?}; mallory's {} changes fired in {flooded:?}",
        14 * 20
    );
    let late: Vec<_> = delays
        .iter()
        .filter(|d| **d > Duration::from_secs(5))
        .collect();
    assert!(
        late.is_empty(),
        "alice's messages after her changes, during the flood: {delays:?} (alone: {quiet:?})"
    );
    drop(unread);
}

/// Changes the task at `path` to `title` and returns how long until `socket` has it.
async fn change_and_wait(alice: &Api, path: &str, socket: &mut Socket, title: &str) -> Duration {
    let changed = tokio::time::Instant::now();
    let patched = alice
        .call("PATCH", path, Some(json!({"title": title})), None)
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    loop {
        let left = Duration::from_secs(20).saturating_sub(changed.elapsed());
        let message = socket
            .next_json(left)
            .await
            .unwrap_or_else(|| panic!("alice's change {title:?} never reached her"));
        if message["data"]["task"]["title"] == title {
            return changed.elapsed();
        }
    }
}
