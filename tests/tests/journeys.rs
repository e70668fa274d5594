//! The journeys a user would try with curl, through the local cloud.

use serde_json::json;
use todo_e2e::{Api, DataDir, start};

#[tokio::test]
async fn create_filter_update_complete_a_recurring_task_reopen_and_delete() {
    let data = DataDir::new("journey");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let bob = Api::new(&cloud, "bob");

    let weekly = alice
        .create(json!({
            "title": "Team sync notes", "priority": "high", "tags": ["work"],
            "due": {"at": "2030-03-25T09:00:00+01:00", "tz": "Europe/Berlin"},
            "recurrence": "FREQ=WEEKLY;BYDAY=MO"
        }))
        .await;
    alice
        .create(json!({"title": "Groceries", "tags": ["home"]}))
        .await;
    let id = weekly["id"].as_str().unwrap().to_string();

    let work = alice
        .get("/tasks?tag=work&priority=high,urgent&sort=due")
        .await;
    assert_eq!(work.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        alice.get("/tasks?q=GROCER").await.body["items"][0]["title"],
        "Groceries"
    );

    let patched = alice
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"notes": "agenda"})),
            None,
        )
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.headers["etag"], "\"2\"");

    let done = alice
        .post(&format!("/tasks/{id}/complete"), json!({}))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "completed");
    let link = done.headers["link"].to_str().unwrap().to_string();
    let next_path = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let next = alice.get(&next_path).await;
    // The clocks went forward on 2030-03-31: next Monday 09:00 in Berlin is 07:00Z, not 08:00Z.
    assert_eq!(next.body["due"]["at"], "2030-04-01T07:00:00.000Z");
    assert_eq!(next.body["series_id"], json!(id));

    let reopened = alice.post(&format!("/tasks/{id}/reopen"), json!({})).await;
    assert_eq!(reopened.body["status"], "open");

    assert_eq!(
        bob.get(&format!("/tasks/{id}")).await.status,
        404,
        "Alice's task does not exist for Bob"
    );
    assert_eq!(
        bob.call("DELETE", &format!("/tasks/{id}"), None, None)
            .await
            .status,
        404
    );

    let deleted = alice
        .call("DELETE", &format!("/tasks/{id}"), None, None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(alice.get(&format!("/tasks/{id}")).await.status, 404);

    let history = alice.items_once(&format!("/tasks/{id}/history"), 5).await;
    let ops: Vec<_> = history
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
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
