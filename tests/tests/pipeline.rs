//! The event pipeline through the local cloud: a change reaches the audit history over HTTP,
//! and a reminder reaches the inbox and the webhook.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use todo_e2e::{DataDir, start};

/// Polls `probe` until it yields, for at most 30 s.
async fn eventually<F, Fut>(what: &str, mut probe: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_change_shows_up_in_the_audit_history_and_a_reminder_in_the_inbox() {
    let data = DataDir::new("pipeline");
    let cloud = start(&data).await;
    let http = reqwest::Client::new();
    let token = cloud.auth.token("alice", 1);
    let soon = in_seconds(2);
    let created: Value = http
        .post(format!("{}/tasks", cloud.api_url))
        .bearer_auth(&token)
        .json(&json!({"title": "Stretch", "reminders": [{"at": soon}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    http.patch(format!("{}/tasks/{id}", cloud.api_url))
        .bearer_auth(&token)
        .json(&json!({"title": "Stretch well"}))
        .send()
        .await
        .unwrap();

    let history = eventually("two audit entries", || {
        let (http, url, token) = (
            http.clone(),
            format!("{}/tasks/{id}/history", cloud.api_url),
            token.clone(),
        );
        async move {
            let page: Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (page["items"].as_array()?.len() >= 2).then_some(page)
        }
    })
    .await;
    assert_eq!(history["items"][0]["operation"], "task.created");
    assert_eq!(history["items"][1]["before"]["title"], "Stretch");
    assert_eq!(history["items"][1]["after"]["title"], "Stretch well");

    let inbox = eventually("the reminder in the inbox", || {
        let (http, url, token) = (
            http.clone(),
            format!("{}/notifications?unread=true", cloud.api_url),
            token.clone(),
        );
        async move {
            let page: Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (!page["items"].as_array()?.is_empty()).then_some(page)
        }
    })
    .await;
    assert_eq!(inbox["items"][0]["title"], "Stretch well");
    let posted = cloud.webhook.received();
    assert_eq!(posted.len(), 1, "the webhook got the reminder");
}

/// An RFC 3339 instant `seconds` from now.
fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}
