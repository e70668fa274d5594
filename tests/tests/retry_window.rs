//! How long a channel keeps trying a far end that is down, under AWS's rule for Kafka mappings:
//! "When you configure both infinite retries and an on-failure destination, Lambda
//! automatically applies a maximum of 10 retry attempts" (Lambda developer guide, "Using a
//! Kafka topic as an on-failure destination"). The local cloud applies it, so:
//!
//! - with the template's settings (`MaximumRetryAttempts: 10000`, the record's age ending the
//!   retries), a webhook down for longer than ten retries take loses nothing;
//! - with `MaximumRetryAttempts: -1`, what the template used to say, the reminder is
//!   dead-lettered after exactly eleven invocations (the first and ten retries).
//!
//! The channel's backoff is shortened to a second (`CHANNEL_MAX_BACKOFF_SECONDS`) so ten
//! retries take seconds, not the five minutes they take deployed.

use serde_json::json;
use todo_e2e::{Api, DataDir, eventually, in_seconds, start_with};
use todo_local::cloud::LocalCloud;
use todo_local::template::Template;

const GROUP: &str = "todo-notifications-webhook";

/// The workspace template with the webhook channel's backoff at most a second, and its
/// mapping's `MaximumRetryAttempts` set to `retries` when given.
fn template(retries: Option<i64>) -> Template {
    let mut template = Template::workspace().unwrap();
    let function = &mut template.root["Resources"]["WebhookChannelFunction"]["Properties"];
    function["Environment"]["Variables"]["CHANNEL_MAX_BACKOFF_SECONDS"] = json!("1");
    if let Some(n) = retries {
        function["Events"]["Reminders"]["Properties"]["MaximumRetryAttempts"] = json!(n);
    }
    template
}

/// The webhook channel's records in the dead-letter topic.
async fn dead_lettered(cloud: &LocalCloud) -> usize {
    let records = cloud
        .kafka
        .read_partition("todo.dead.letter", 0)
        .await
        .unwrap_or_default();
    records
        .iter()
        .filter(|r| r.record.headers.get("dlt.group").map(Vec::as_slice) == Some(GROUP.as_bytes()))
        .count()
}

fn invocations(cloud: &LocalCloud) -> u64 {
    cloud.hosts["WebhookChannelFunction"].invocations()
}

#[tokio::test]
async fn a_far_end_down_longer_than_ten_retries_loses_nothing() {
    let data = DataDir::new("retry-window");
    let cloud = start_with(&template(None), &data).await.unwrap();
    let alice = Api::new(&cloud, "alice");
    cloud.webhook.answer(503);
    alice
        .create(json!({"title": "Down for a while", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    // Past the first invocation and ten retries, and a few more.
    eventually("fourteen invocations of the webhook channel", || async {
        (invocations(&cloud) >= 14).then_some(())
    })
    .await;
    assert_eq!(dead_lettered(&cloud).await, 0, "nothing dead-lettered yet");
    cloud.webhook.answer(200);
    eventually(
        "the reminder delivered once the webhook is back",
        || async {
            let delivered = alice.items_once("/notifications", 1).await[0]["deliveries"]
                .as_array()
                .is_some_and(|d| {
                    d.iter()
                        .any(|d| d["channel"] == "webhook" && d["status"] == "delivered")
                });
            delivered.then_some(())
        },
    )
    .await;
    let received = cloud.webhook.received();
    let delivered = received.iter().filter(|r| r.status < 300).count();
    assert_eq!(delivered, 1, "delivered once");
    assert!(
        received.len() > 11,
        "tried more often than ten retries allow: {}",
        received.len()
    );
    assert_eq!(
        dead_lettered(&cloud).await,
        0,
        "and it was never dead-lettered"
    );
}

#[tokio::test]
async fn infinite_retries_with_a_destination_are_ten() {
    let data = DataDir::new("retry-cap");
    let cloud = start_with(&template(Some(-1)), &data).await.unwrap();
    let alice = Api::new(&cloud, "alice");
    cloud.webhook.answer(503);
    alice
        .create(json!({"title": "Never answered", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    eventually("the reminder dead-lettered", || async {
        (dead_lettered(&cloud).await == 1).then_some(())
    })
    .await;
    // Settle: nothing more is invoked for it.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        invocations(&cloud),
        11,
        "the first invocation and exactly ten retries"
    );
    assert_eq!(dead_lettered(&cloud).await, 1);
}
