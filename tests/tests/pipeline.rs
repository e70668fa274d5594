//! The event pipeline through the local cloud: a change reaches the audit history over HTTP,
//! and a reminder reaches the inbox and the webhook.

use serde_json::json;
use todo_e2e::{Api, DataDir, in_seconds, start};

#[tokio::test]
async fn a_change_shows_up_in_the_audit_history_and_a_reminder_in_the_inbox() {
    let data = DataDir::new("pipeline");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let task = alice
        .create(json!({"title": "Stretch", "reminders": [{"at": in_seconds(2)}]}))
        .await;
    let id = task["id"].as_str().unwrap();
    let patched = alice
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"title": "Stretch well"})),
            None,
        )
        .await;
    assert_eq!(patched.status, 200);

    let history = alice.items_once(&format!("/tasks/{id}/history"), 2).await;
    assert_eq!(history[0]["operation"], "task.created");
    assert_eq!(history[1]["before"]["title"], "Stretch");
    assert_eq!(history[1]["after"]["title"], "Stretch well");

    let inbox = alice.items_once("/notifications?unread=true", 1).await;
    assert_eq!(inbox[0]["title"], "Stretch well");
    assert_eq!(
        cloud.webhook.received().len(),
        1,
        "the webhook got the reminder"
    );
}
