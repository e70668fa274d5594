//! `events/msk/reminders.json` through the in-app channel, delivered twice.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_notifications::channels::in_app::in_app_batch;
use todo_notifications::store::{InboxStore, ReadInbox};

#[tokio::test]
async fn the_sample_reminder_batch_lands_in_the_inbox_once() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/msk/reminders.json"
    ))
    .unwrap();
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let inbox = InboxStore::new(engine.client().await, "NotificationsTable");
    for _ in 0..2 {
        let event: KafkaEvent = serde_json::from_str(&text).unwrap();
        assert!(
            in_app_batch(
                &inbox,
                event,
                todo_lambda::deadline::after(std::time::Duration::from_secs(60))
            )
            .await
            .batch_item_failures
            .is_empty()
        );
    }
    let page = inbox.list("user-alice", false, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].title, "Water the plants and herbs");
}

#[tokio::test]
async fn the_sample_http_events_run_through_the_inbox_handlers() {
    use todo_lambda::cursor::CursorCodec;
    use todo_notifications::http::{list::list_notifications, read::mark_read};
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let inbox = InboxStore::new(engine.client().await, "NotificationsTable");
    let cursors = CursorCodec::new(b"fixture-test-signing-key-0123456789".to_vec());
    let request = |name: &str| {
        let path = format!("{}/../../events/http/{name}", env!("CARGO_MANIFEST_DIR"));
        lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let list = todo_local::testing::apigw::read(
        list_notifications(&inbox, &cursors, request("list-notifications.json")).await,
    );
    assert_eq!(list.status, 200, "{}", list.body);
    let read = todo_local::testing::apigw::read(
        mark_read(&inbox, request("read-notification.json")).await,
    );
    assert_eq!(read.status, 404, "no such notification yet: {}", read.body);
}

/// `events/sns/ses-bounce.json` (SES's documented bounce record, tagged as the e-mail channel
/// tags its mail) through the feedback function: the owner's e-mail goes off with SES's reason
/// and that e-mail's delivery is marked failed; applied twice, nothing more changes; an owner
/// who has moved to another address since keeps e-mail on.
#[tokio::test]
async fn the_documented_bounce_turns_the_tagged_owners_email_off_and_fails_the_delivery() {
    use todo_notifications::email_feedback::{SnsEvent, handle};
    use todo_notifications::store::{Deliveries, Settings};
    use todo_schema::notification::{Channel, Delivery, DeliveryStatus, Notification};
    use todo_schema::settings::{NotificationSettings, StopReason};
    use todo_schema::{TaskId, Timestamp};

    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = InboxStore::new(engine.client().await, "NotificationsTable");
    let event = || -> SnsEvent {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/sns/ses-bounce.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let on = |address: &str| -> NotificationSettings {
        serde_json::from_value(serde_json::json!({"email": {"enabled": true, "address": address}}))
            .unwrap()
    };
    let now = Timestamp::now();

    store
        .put_settings("alice", &on("new@example.com"))
        .await
        .unwrap();
    let applied = handle(&store, event(), now).await.unwrap();
    assert_eq!(applied.stopped, 0);
    assert!(
        store.settings("alice").await.unwrap().email.enabled,
        "another address since: still on"
    );

    store
        .put_settings("alice", &on("recipient@example.com"))
        .await
        .unwrap();
    let n = Notification {
        id: "0192f0c1-2a3b-7c4d-8e5f-0123456789ab".parse().unwrap(),
        owner: "alice".into(),
        task_id: TaskId::generate(),
        title: "Call the bank".into(),
        due: None,
        reminder_at: now,
        late: false,
        created_at: now,
        read_at: None,
        deliveries: Vec::new(),
    };
    let sent = Delivery::attempt(Channel::Email, "recipient@example.com", None, Ok(()), now);
    store.record(&n, &sent).await.unwrap();
    for _ in 0..2 {
        let applied = handle(&store, event(), now).await.unwrap();
        assert_eq!((applied.stopped, applied.failed), (1, 1));
    }
    let email = store.settings("alice").await.unwrap().email;
    assert!(!email.enabled);
    assert_eq!(email.address.as_deref(), Some("recipient@example.com"));
    let stopped = email.stopped.unwrap();
    assert_eq!(stopped.reason, StopReason::Bounced);
    assert_eq!(stopped.address, "recipient@example.com");
    assert_eq!(
        stopped.detail.as_deref(),
        Some("smtp; 550 5.1.1 user unknown")
    );
    let deliveries = store.deliveries(&n, Channel::Email).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, DeliveryStatus::Failed);
    assert_eq!(
        deliveries[0].last_error.as_deref(),
        Some("bounced: smtp; 550 5.1.1 user unknown")
    );
    assert_eq!(deliveries[0].delivered_at, None);
    assert_eq!(
        deliveries[0].attempts, 1,
        "the attempt count is the channel's"
    );

    // Bob was never sent this e-mail: nothing of his is touched.
    assert_eq!(
        store.settings("bob").await.unwrap(),
        NotificationSettings::default()
    );
}
