//! The event pipeline through the local cloud: a change reaches the audit history over HTTP,
//! and a reminder reaches the inbox and the webhook, each channel on its own.

use serde_json::json;
use todo_e2e::{Api, DataDir, eventually, in_seconds, start};

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
    // The webhook is a channel of its own: it gets the reminder on its own time.
    eventually("the webhook delivery", || async {
        (cloud.webhook.received().len() == 1).then_some(())
    })
    .await;
}

/// #11: one third-party outage must not keep reminders out of the inbox. With the webhook
/// answering 503, every reminder still reaches the inbox at once; when it recovers, its channel
/// catches up on its own, each reminder posted once, and each notification shows both
/// deliveries.
#[tokio::test]
async fn a_failing_webhook_holds_only_its_own_channel() {
    let data = DataDir::new("channels");
    let cloud = start(&data).await;
    cloud.webhook.answer(503);
    let alice = Api::new(&cloud, "alice");
    for i in 0..4 {
        alice
            .create(json!({"title": format!("r{i}"), "reminders": [{"at": in_seconds(1)}]}))
            .await;
    }
    let inbox = alice.items_once("/notifications?unread=true", 4).await;
    assert_eq!(
        inbox.len(),
        4,
        "every reminder in the inbox while the webhook fails"
    );
    assert!(
        cloud.webhook.received().iter().all(|r| r.status == 503),
        "nothing accepted yet"
    );

    cloud.webhook.answer(200);
    let accepted = eventually("the webhook catching up", || async {
        let ids: Vec<String> = cloud
            .webhook
            .received()
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.headers["x-todo-delivery"].clone())
            .collect();
        (ids.len() >= 4).then_some(ids)
    })
    .await;
    let mut unique = accepted.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        accepted.len(),
        "no reminder posted twice: {accepted:?}"
    );
    let all = eventually("every delivery recorded", || async {
        let items = alice.items_once("/notifications", 4).await;
        items
            .iter()
            .all(|n| {
                n["deliveries"]
                    .as_array()
                    .is_some_and(|d| d.iter().filter(|d| d["status"] == "delivered").count() == 2)
            })
            .then_some(items)
    })
    .await;
    assert_eq!(all.len(), 4);
}

/// #11: with e-mail on in her settings and a device subscribed, a reminder reaches the inbox,
/// the webhook, her address and her device, each exactly once, and the notification lists all
/// four deliveries; with the e-mail far end failing, the other channels are not held.
#[tokio::test]
async fn a_reminder_reaches_every_channel_its_owner_enabled_once_each() {
    let data = DataDir::new("every-channel");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let on = json!({"email": {"enabled": true, "address": "alice@example.com"}});
    let stored = alice
        .call("PUT", "/settings/notifications", Some(on.clone()), None)
        .await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_eq!(
        alice.get("/settings/notifications").await.body["email"],
        on["email"]
    );
    // A device subscribes with the server's VAPID key, as a browser would.
    alice.subscribe_a_device(&cloud).await;

    cloud.ses.far_end().answer(503);
    alice
        .create(json!({"title": "Every channel", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    alice.items_once("/notifications?unread=true", 1).await;
    eventually("the webhook delivery", || async {
        (cloud.webhook.received().len() == 1).then_some(())
    })
    .await;
    assert!(cloud.ses.sent().is_empty(), "SES is down");

    cloud.ses.far_end().answer(200);
    let sent = eventually("the e-mail after SES recovers", || async {
        let sent = cloud.ses.sent();
        (!sent.is_empty()).then_some(sent)
    })
    .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["alice@example.com"]);
    assert!(
        sent[0]
            .text
            .as_deref()
            .unwrap_or("")
            .contains(&format!("{}/tasks/", cloud.api_url))
    );
    let all = eventually("four deliveries recorded", || async {
        let items = alice.items_once("/notifications", 1).await;
        let done = items[0]["deliveries"]
            .as_array()
            .is_some_and(|d| d.iter().filter(|d| d["status"] == "delivered").count() == 4);
        done.then_some(items)
    })
    .await;
    let channels: Vec<&str> = all[0]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["in_app", "webhook", "email", "push"]);
    assert_eq!(cloud.webhook.received().len(), 1, "nothing twice");
    assert_eq!(cloud.ses.sent().len(), 1, "nothing twice");
    let pushed = cloud.push.received();
    assert_eq!(pushed.len(), 1, "nothing twice");
    assert_eq!(
        pushed[0].payload["title"], "Every channel",
        "decrypted on the device"
    );
}

/// #11: Alice's own webhook gets her reminder and, as she chose, her task's creation, signed
/// with its own secret and logged, through the real channel binary; her quiet hours hold the
/// e-mail back (deferred until they end) while the inbox, the operator's webhook and her own
/// get the reminder at once.
#[tokio::test]
async fn a_users_own_webhook_and_quiet_hours_through_the_local_cloud() {
    let data = DataDir::new("user-webhooks");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let origin = cloud.webhook.url().trim_end_matches("/hook").to_string();
    let hook = alice
        .call(
            "POST",
            "/webhooks",
            Some(json!({"url": format!("{origin}/alice"), "task_events": true})),
            None,
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    let hook_id = hook.body["id"].as_str().unwrap().to_string();
    let clock = |hours: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(hours))
            .format("%H:%M")
            .to_string()
    };
    let settings = json!({
        "email": {"enabled": true, "address": "alice@example.com"},
        "quiet_hours": {"start": clock(-1), "end": clock(2), "time_zone": "UTC"},
    });
    let stored = alice
        .call("PUT", "/settings/notifications", Some(settings), None)
        .await;
    assert_eq!(stored.status, 200, "{}", stored.body);

    let task = alice
        .create(json!({"title": "Quietly", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    alice.items_once("/notifications?unread=true", 1).await;
    let mine = eventually("alice's webhook: the creation and the reminder", || async {
        let got: Vec<_> = cloud
            .webhook
            .received()
            .into_iter()
            .filter(|r| r.path == "/alice")
            .collect();
        (got.len() >= 2).then_some(got)
    })
    .await;
    let mut kinds: Vec<&str> = mine
        .iter()
        .map(|r| r.headers["x-todo-event"].as_str())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["reminder.due", "task.created"]);
    for r in &mine {
        let ts: i64 = r.headers["x-todo-timestamp"].parse().unwrap();
        todo_schema::webhook::verify(
            secret.as_bytes(),
            ts,
            &r.body,
            &r.headers["x-todo-signature"],
            ts,
            300,
        )
        .expect("signed with the webhook's own secret");
    }
    let created: serde_json::Value = serde_json::from_slice(
        &mine
            .iter()
            .find(|r| r.headers["x-todo-event"] == "task.created")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(created["subject"], task["id"]);

    let held = eventually("the e-mail recorded as deferred", || async {
        let items = alice.items_once("/notifications", 1).await;
        items[0]["deliveries"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["channel"] == "email").cloned())
    })
    .await;
    assert_eq!(held["status"], "deferred");
    assert!(held["next_attempt_at"].is_string());
    assert!(
        cloud.ses.sent().is_empty(),
        "nothing e-mailed in quiet hours"
    );
    let log = alice.get(&format!("/webhooks/{hook_id}/deliveries")).await;
    assert_eq!(log.status, 200);
    let entries = log.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries.iter().all(|e| e["status"] == "delivered"),
        "{entries:?}"
    );
    // One at a time: the first page's cursor (signed with the key the function reads from
    // Secrets Manager when a page first needs it) brings the second.
    let first = alice
        .get(&format!("/webhooks/{hook_id}/deliveries?limit=1"))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = alice
        .get(&format!(
            "/webhooks/{hook_id}/deliveries?limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        [&first.body["items"][0], &second.body["items"][0]],
        [&entries[0], &entries[1]]
    );
    assert_eq!(
        cloud
            .webhook
            .received()
            .iter()
            .filter(|r| r.path == "/alice")
            .count(),
        2,
        "nothing twice"
    );
}

/// A user's webhook that fails is never held on the partition: the delivery is logged
/// `retrying`, the event parked, and the function's schedule sends it again a minute later;
/// once it is delivered the parked event is taken away (so it is sent once more, not twice).
#[tokio::test]
async fn a_users_webhook_that_fails_is_parked_and_sent_again_a_minute_later() {
    let data = DataDir::new("user-webhook-retry");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let origin = cloud.webhook.url().trim_end_matches("/hook").to_string();
    cloud.webhook.answer(503);
    let hook = alice
        .call(
            "POST",
            "/webhooks",
            Some(json!({"url": format!("{origin}/later"), "task_events": true})),
            None,
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let log = format!("/webhooks/{}/deliveries", hook.body["id"].as_str().unwrap());
    alice.create(json!({"title": "Try again"})).await;
    let retrying = eventually("the delivery logged as retrying", || async {
        let entries = alice.get(&log).await.body["items"].as_array().cloned()?;
        entries
            .first()
            .filter(|e| e["status"] == "retrying")
            .cloned()
    })
    .await;
    assert!(retrying["next_attempt_at"].is_string(), "{retrying}");
    cloud.webhook.answer(200);
    // The first retry is a minute after the failure.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(100);
    let delivered = loop {
        let entries = alice.get(&log).await.body["items"].as_array().cloned();
        if let Some(e) = entries
            .and_then(|e| e.first().cloned())
            .filter(|e| e["status"] == "delivered")
        {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "never sent again");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(delivered["attempts"], 2, "{delivered}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let answered = cloud
        .webhook
        .received()
        .into_iter()
        .filter(|r| r.path == "/later" && r.status < 300)
        .count();
    assert_eq!(answered, 1, "delivered once, then unparked");
}

/// #22: SES's bounces and complaints reach the stack. Alice's address bounces for good: after
/// her reminder's e-mail, her settings show e-mail off with SES's reason and the e-mail's
/// delivery is `failed` (`bounced: ...`); a PUT that keeps it off keeps the reason, turning it
/// on at a new address clears it. Bob marks his reminder as spam (SES's mailbox simulator's
/// complaint address): his e-mail goes off too. Carol, whose mail is delivered, keeps hers.
#[tokio::test]
async fn a_hard_bounce_or_a_complaint_turns_the_owners_email_off_with_the_reason() {
    use todo_local::ses::Outcome;
    let data = DataDir::new("bounces");
    let cloud = start(&data).await;
    cloud.ses.set_outcome("alice@example.com", Outcome::Bounce);
    let users = [
        ("alice", "alice@example.com"),
        ("bob", "complaint@simulator.amazonses.com"),
        ("carol", "carol@example.com"),
    ];
    for (user, address) in users {
        let api = Api::new(&cloud, user);
        let on = json!({"email": {"enabled": true, "address": address}});
        let stored = api
            .call("PUT", "/settings/notifications", Some(on), None)
            .await;
        assert_eq!(stored.status, 200, "{}", stored.body);
        api.create(
            json!({"title": format!("{user}'s reminder"), "reminders": [{"at": in_seconds(1)}]}),
        )
        .await;
    }
    let alice = Api::new(&cloud, "alice");
    let bob = Api::new(&cloud, "bob");
    let stopped = |api: &Api| {
        let api = api.clone();
        async move {
            let email = api.get("/settings/notifications").await.body["email"].clone();
            (!email["stopped"].is_null()).then_some(email)
        }
    };
    let email = eventually("alice's bounce recorded", || stopped(&alice)).await;
    assert_eq!(email["enabled"], false);
    assert_eq!(email["address"], "alice@example.com");
    assert_eq!(email["stopped"]["reason"], "bounced");
    assert_eq!(email["stopped"]["address"], "alice@example.com");
    assert!(
        email["stopped"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("550")),
        "{email}"
    );
    let delivery = eventually("the bounced e-mail's delivery failed", || async {
        let items = alice.items_once("/notifications", 1).await;
        items[0]["deliveries"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["channel"] == "email").cloned())
            .filter(|d| d["status"] == "failed")
    })
    .await;
    assert!(
        delivery["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("bounced: ")),
        "{delivery}"
    );
    let email = eventually("bob's complaint recorded", || stopped(&bob)).await;
    assert_eq!(email["enabled"], false);
    assert_eq!(email["stopped"]["reason"], "complained");
    // Carol's e-mail was delivered (all three were sent) and stays on.
    eventually("every e-mail sent", || async {
        (cloud.ses.sent().len() == 3).then_some(())
    })
    .await;
    let carol = Api::new(&cloud, "carol")
        .get("/settings/notifications")
        .await;
    assert_eq!(carol.body["email"]["enabled"], true);
    assert!(carol.body["email"]["stopped"].is_null(), "{}", carol.body);

    // Another field's change keeps the reason; the user turning e-mail on again clears it.
    let kept = alice
        .call(
            "PUT",
            "/settings/notifications",
            Some(
                json!({"email": {"enabled": false, "address": "alice@example.com"},
                        "push": {"enabled": false}}),
            ),
            None,
        )
        .await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(kept.body["email"]["stopped"]["reason"], "bounced");
    let again = alice
        .call(
            "PUT",
            "/settings/notifications",
            Some(json!({"email": {"enabled": true, "address": "alice@example.org"}})),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body["email"]["stopped"].is_null(), "{}", again.body);
}
