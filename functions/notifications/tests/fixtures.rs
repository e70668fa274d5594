//! `events/msk/reminders.json` through the notifications consumer, delivered twice.

use aws_lambda_events::event::kafka::KafkaEvent;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_notifications::consumer::notify_batch;
use todo_notifications::store::{InboxStore, ReadInbox};
use todo_notifications::webhook::NoWebhook;

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
            notify_batch(&inbox, &NoWebhook, event)
                .await
                .batch_item_failures
                .is_empty()
        );
    }
    let page = inbox.list("user-alice", false, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].title, "Water the plants and herbs");
}
