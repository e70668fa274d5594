//! Completing and reopening, including recurring series, against a real DynamoDB API.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn completing_twice_is_not_an_error_and_records_one_event() {
    let h = Harness::new().await;
    let id = id_of(&h.create(ALICE, json!({"title": "x"})).await);
    let path = format!("/tasks/{id}/complete");
    let first = call("POST", &path).send(&h).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["status"], "completed");
    assert!(first.body["completed_at"].is_string());
    assert_eq!(first.body["version"], 2);
    let second = call("POST", &path).send(&h).await;
    assert_eq!(second.status, 200, "a retried complete is not a conflict");
    assert_eq!(second.body, first.body);
    let stale = call("POST", &path)
        .header("If-Match", "\"1\"")
        .send(&h)
        .await;
    assert_eq!(
        stale.status, 412,
        "a precondition holds or fails alike, whether or not the call would change anything"
    );
    let current = call("POST", &path)
        .header("If-Match", "\"2\"")
        .send(&h)
        .await;
    assert_eq!(current.status, 200);

    let completions = h
        .stream()
        .into_iter()
        .filter(|r| r["dynamodb"]["NewImage"]["ev_type"]["S"] == "task.completed")
        .count();
    assert_eq!(completions, 1);
}

#[tokio::test]
async fn reopen_restores_an_open_task_and_is_idempotent() {
    let h = Harness::new().await;
    let id = id_of(&h.create(ALICE, json!({"title": "x"})).await);
    call("POST", format!("/tasks/{id}/complete")).send(&h).await;
    let stale = call("POST", format!("/tasks/{id}/reopen"))
        .header("If-Match", "\"1\"")
        .send(&h)
        .await;
    assert_eq!(stale.status, 412);
    let reopened = call("POST", format!("/tasks/{id}/reopen"))
        .header("If-Match", "\"2\"")
        .send(&h)
        .await;
    assert_eq!(reopened.status, 200);
    assert_eq!(reopened.body["status"], "open");
    assert!(reopened.body.get("completed_at").is_none());
    assert_eq!(reopened.body["version"], 3);
    let again = call("POST", format!("/tasks/{id}/reopen")).send(&h).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body["version"], 3,
        "reopening an open task changes nothing"
    );
    assert_eq!(
        call("POST", "/tasks/nope/reopen").send(&h).await.status,
        404
    );
    assert_eq!(
        call("POST", format!("/tasks/{id}/complete"))
            .anonymous()
            .send(&h)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn completing_a_weekly_task_creates_the_next_one_across_a_dst_change() {
    let h = Harness::new().await;
    // Monday 2026-03-23 09:00 in Berlin (CET, +01:00). Clocks go forward on Sunday 2026-03-29.
    let task = h
        .create(
            ALICE,
            json!({
                "title": "Standup notes",
                "tags": ["work"],
                "due": {"at": "2026-03-23T09:00:00+01:00", "tz": "Europe/Berlin"},
                "reminders": [{"before_due_minutes": 15}],
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=3"
            }),
        )
        .await;
    let id = id_of(&task);
    let done = call("POST", format!("/tasks/{id}/complete")).send(&h).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "completed");
    let link = done
        .header("link")
        .expect("a link to the next occurrence")
        .to_string();
    let next_id = link
        .trim_start_matches("</tasks/")
        .split('>')
        .next()
        .unwrap()
        .to_string();

    let next = call("GET", format!("/tasks/{next_id}")).send(&h).await;
    assert_eq!(next.status, 200);
    let n = &next.body;
    // Monday 2026-03-30 09:00 in Berlin is now CEST (+02:00): 07:00Z, not 08:00Z.
    assert_eq!(
        n["due"],
        json!({"at": "2026-03-30T07:00:00.000Z", "tz": "Europe/Berlin"})
    );
    assert_eq!(n["status"], "open");
    assert_eq!(n["title"], "Standup notes");
    assert_eq!(n["tags"], json!(["work"]));
    assert_eq!(n["reminders"], json!([{"before_due_minutes": 15}]));
    assert_eq!(n["recurrence"], "FREQ=WEEKLY;BYDAY=MO;COUNT=2");
    assert_eq!(n["series_id"], json!(id));
    assert_eq!(n["version"], 1);

    // Completing the same occurrence again creates nothing more.
    let again = call("POST", format!("/tasks/{id}/complete")).send(&h).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("link"), None);

    // The series ends after COUNT occurrences.
    let second = call("POST", format!("/tasks/{next_id}/complete"))
        .send(&h)
        .await;
    let third_id = second
        .header("link")
        .unwrap()
        .trim_start_matches("</tasks/")
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let third = call("GET", format!("/tasks/{third_id}")).send(&h).await;
    assert_eq!(third.body["due"]["at"], "2026-04-06T07:00:00.000Z");
    assert_eq!(third.body["recurrence"], "FREQ=WEEKLY;BYDAY=MO;COUNT=1");
    let last = call("POST", format!("/tasks/{third_id}/complete"))
        .send(&h)
        .await;
    assert_eq!(last.status, 200);
    assert_eq!(last.header("link"), None, "COUNT=3 means three occurrences");

    let all = call("GET", "/tasks").send(&h).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn completing_a_recurring_task_honours_if_match() {
    let h = Harness::new().await;
    let id = id_of(
        &h.create(ALICE, json!({"title": "x", "due": {"at": "2030-01-01T09:00:00Z", "tz": "UTC"}, "recurrence": "FREQ=DAILY"}))
            .await,
    );
    call("PATCH", format!("/tasks/{id}"))
        .json(json!({"title": "y"}))
        .send(&h)
        .await;
    let stale = call("POST", format!("/tasks/{id}/complete"))
        .header("If-Match", "\"1\"")
        .send(&h)
        .await;
    assert_eq!(stale.status, 412);
    let ok = call("POST", format!("/tasks/{id}/complete"))
        .header("If-Match", "\"2\"")
        .send(&h)
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.header("link").is_some());
}

/// Issue #7, defect 3: a handler whose clock is behind (it started before a concurrent change
/// committed) never stamps its change earlier than the change before it.
#[tokio::test]
async fn a_change_is_never_stamped_before_the_change_it_follows() {
    use todo_schema::command::TaskPatch;
    use todo_schema::{Actor, Timestamp};
    use todo_tasks::store::{CompleteTask, ReopenTask, TaskWrite, UpdateTask};

    let h = Harness::new().await;
    let task = h.create(ALICE, json!({"title": "x"})).await;
    let id = id_of(&task).parse().unwrap();
    let actor = Actor::User { id: ALICE.into() };
    let later = |minutes| Timestamp::now().plus_minutes(minutes).unwrap();
    let (early, late) = (later(5), later(10));
    let patch = |title: &str| {
        serde_json::from_value::<TaskPatch>(json!({ "title": title }))
            .unwrap()
            .check()
            .unwrap()
    };

    let v2 = h
        .store
        .update(&TaskWrite::new(ALICE, id, &actor, late), &patch("v2"))
        .await
        .unwrap();
    assert_eq!((v2.version, v2.updated_at), (2, late));
    // Started before v2 committed (its clock says `early`), commits after it.
    let v3 = h
        .store
        .update(&TaskWrite::new(ALICE, id, &actor, early), &patch("v3"))
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    assert!(v3.updated_at > v2.updated_at, "{v3:?}");
    let v4 = h
        .store
        .complete(&TaskWrite::new(ALICE, id, &actor, early))
        .await
        .unwrap();
    assert!(v4.changed);
    assert_eq!(v4.task.version, 4);
    assert!(v4.task.updated_at > v3.updated_at);
    assert_eq!(v4.task.completed_at, Some(v4.task.updated_at));
    let v5 = h
        .store
        .reopen(&TaskWrite::new(ALICE, id, &actor, early))
        .await
        .unwrap();
    assert_eq!(v5.task.version, 5);
    assert!(v5.task.updated_at > v4.task.updated_at);

    // The events on the stream carry the same, increasing times.
    let times: Vec<String> = h
        .stream()
        .iter()
        .filter_map(|r| {
            r["dynamodb"]["NewImage"]["ev_at"]["S"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(times.len(), 5);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
}
