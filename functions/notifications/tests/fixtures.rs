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
