//! `POST /tasks` against a real DynamoDB API.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn creates_a_task_with_location_etag_and_defaults() {
    let h = Harness::new().await;
    let reply = call("POST", "/tasks")
        .json(json!({
            "title": "  Buy milk ",
            "tags": ["Home"],
            "due": {"at": "2030-03-29T09:00:00+02:00", "tz": "Europe/Berlin"},
            "reminders": [{"before_due_minutes": 30}],
            "recurrence": "FREQ=WEEKLY;BYDAY=FR"
        }))
        .send(&h)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let task = &reply.body;
    let id = id_of(task);
    assert_eq!(
        reply.header("location"),
        Some(format!("/tasks/{id}").as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["owner"], ALICE);
    assert_eq!(task["status"], "open");
    assert_eq!(task["priority"], "medium");
    assert_eq!(task["tags"], json!(["home"]));
    assert_eq!(
        task["due"],
        json!({"at": "2030-03-29T07:00:00.000Z", "tz": "Europe/Berlin"})
    );
    assert_eq!(task["series_id"], json!(id));
    assert_eq!(task["version"], 1);

    let read = call("GET", format!("/tasks/{id}")).send(&h).await;
    assert_eq!(read.body, reply.body);
}

#[tokio::test]
async fn validation_errors_list_every_field() {
    let h = Harness::new().await;
    let reply = call("POST", "/tasks")
        .json(json!({
            "title": "",
            "notes": "n".repeat(4001),
            "tags": ["ok", "bad,tag"],
            "reminders": [{"before_due_minutes": 10}]
        }))
        .send(&h)
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["type"], "urn:serverless-todo:problem:validation");
    assert_eq!(
        reply.error_fields(),
        ["title", "notes", "tags[1]", "reminders"]
    );
}

/// Found by an outside tester: line separators and bidi overrides went verbatim into the
/// reminder e-mail's subject. They are refused on create and on update, naming the title.
#[tokio::test]
async fn a_title_with_a_line_separator_or_bidi_control_is_refused() {
    let h = Harness::new().await;
    let id = id_of(&h.create(ALICE, json!({"title": "Pay invoice"})).await);
    for title in [
        "Pay\u{2028}Bcc: x",
        "Pay\u{2029}x",
        "Invoice\u{202E}fdp.exe",
        "a\u{202A}b",
        "a\u{2066}b\u{2069}",
    ] {
        let created = call("POST", "/tasks")
            .json(json!({"title": title}))
            .send(&h)
            .await;
        let patched = call("PATCH", format!("/tasks/{id}"))
            .raw(
                "application/merge-patch+json",
                &json!({"title": title}).to_string(),
            )
            .send(&h)
            .await;
        for reply in [created, patched] {
            assert_eq!(reply.status, 422, "{title:?}: {}", reply.body);
            assert_eq!(reply.error_fields(), ["title"], "{title:?}");
            assert_eq!(reply.body["errors"][0]["code"], "invalid");
        }
    }
    let unchanged = call("GET", format!("/tasks/{id}")).send(&h).await;
    assert_eq!(unchanged.body["title"], "Pay invoice");
}

#[tokio::test]
async fn bad_bodies_get_clear_4xx_problems() {
    let h = Harness::new().await;
    let cases = [
        (call("POST", "/tasks").raw("application/json", "{\"title\": "), 400, None),
        (call("POST", "/tasks").raw("text/plain", "title=x"), 415, None),
        (call("POST", "/tasks").raw("application/json", "[1,2]"), 422, Some("body")),
        (call("POST", "/tasks").json(json!({"title": "x", "owner": "mallory"})), 422, Some("owner")),
        (call("POST", "/tasks").json(json!({"title": "x", "version": 7})), 422, Some("version")),
        (call("POST", "/tasks").json(json!({"title": "x", "id": "0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e"})), 422, Some("id")),
        (call("POST", "/tasks").json(json!({"title": "x", "created_at": "2026-01-01T00:00:00Z"})), 422, Some("created_at")),
        (call("POST", "/tasks").json(json!({"title": 5})), 422, Some("title")),
        (call("POST", "/tasks").json(json!({"notes": "no title"})), 422, Some("title")),
        (call("POST", "/tasks").json(json!({"title": "x", "priority": "asap"})), 422, Some("priority")),
        (call("POST", "/tasks").json(json!({"title": "x", "due": {"at": "2030-01-01T09:00:00Z", "tz": "Mars/Olympus"}})), 422, Some("due.tz")),
        (call("POST", "/tasks").json(json!({"title": "x", "due": {"at": "next friday", "tz": "UTC"}})), 422, Some("due.at")),
        (call("POST", "/tasks").json(json!({"title": "x", "due": {"at": "2030-01-01T09:00:00Z", "tz": "UTC"}, "recurrence": "FREQ=HOURLY"})), 422, Some("recurrence")),
        (call("POST", "/tasks").json(json!({"title": "x", "due": {"at": "2030-01-01T09:00:00Z", "tz": "UTC"}, "recurrence": "FREQ=DAILY;BYSETPOS=1"})), 422, Some("recurrence")),
        (call("POST", "/tasks").json(json!({"title": "x", "recurrence": "FREQ=DAILY"})), 422, Some("recurrence")),
        (call("POST", "/tasks").json(json!({"title": "x", "reminders": [{"in": 5}]})), 422, Some("reminders[0]")),
        (call("POST", "/tasks").raw("application/json", &format!("{{\"title\":\"{}\"}}", "x".repeat(17_000))), 413, None),
        (call("POST", "/tasks").anonymous().json(json!({"title": "x"})), 401, None),
    ];
    expect_problems(&h, cases).await;
    let list = call("GET", "/tasks").send(&h).await;
    assert_eq!(
        list.body["items"],
        json!([]),
        "nothing was created by bad requests"
    );
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_creates_nothing_new() {
    let h = Harness::new().await;
    let body = json!({"title": "Pay rent", "priority": "high"});
    let first = call("POST", "/tasks")
        .header("Idempotency-Key", "rent-2026-11")
        .json(body.clone())
        .send(&h)
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);

    // Same meaning, other whitespace and key order.
    let retry = call("POST", "/tasks")
        .header("Idempotency-Key", "rent-2026-11")
        .raw(
            "application/json",
            r#"{ "priority":"high",  "title":"Pay rent" }"#,
        )
        .send(&h)
        .await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("location"), first.header("location"));

    let other = call("POST", "/tasks")
        .header("Idempotency-Key", "rent-2026-11")
        .json(json!({"title": "Pay rent", "priority": "low"}))
        .send(&h)
        .await;
    assert_eq!(other.status, 422);
    assert!(
        other.body["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );

    // The key is per user: Bob's identical key is his own.
    let bob = call("POST", "/tasks")
        .user(BOB)
        .header("Idempotency-Key", "rent-2026-11")
        .json(body)
        .send(&h)
        .await;
    assert_eq!(bob.status, 201);
    assert_eq!(bob.header("idempotent-replayed"), None);

    let list = call("GET", "/tasks").send(&h).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let created: Vec<_> = h
        .stream()
        .into_iter()
        .filter(|r| r["dynamodb"]["NewImage"]["kind"]["S"] == "task")
        .collect();
    assert_eq!(created.len(), 2, "one task for Alice, one for Bob");
}

#[tokio::test]
async fn malformed_idempotency_keys_are_rejected() {
    let h = Harness::new().await;
    for key in ["", "has space", &"k".repeat(256)] {
        let reply = call("POST", "/tasks")
            .header("Idempotency-Key", key)
            .json(json!({"title": "x"}))
            .send(&h)
            .await;
        assert_eq!(reply.status, 400, "{key:?}");
    }
}
