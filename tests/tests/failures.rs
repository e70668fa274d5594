//! Failure handling through the local cloud: poison records, a crashed function, a restart.

use std::time::Duration;

use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use serde_json::json;
use todo_e2e::{Api, DataDir, eventually, in_seconds, start};

#[tokio::test]
async fn poison_records_land_in_the_dead_letter_topic_while_later_records_are_processed() {
    let data = DataDir::new("poison");
    let cloud = start(&data).await;
    let client = cloud.kafka.client().await.unwrap();
    for partition in 0..3 {
        let pc = client
            .partition_client("todo.task.events", partition, UnknownTopicHandling::Retry)
            .await
            .unwrap();
        let poison = Record {
            key: None,
            value: Some(b"definitely not an event".to_vec()),
            headers: Default::default(),
            timestamp: chrono::Utc::now(),
        };
        pc.produce(vec![poison], Compression::NoCompression)
            .await
            .unwrap();
    }
    let alice = Api::new(&cloud, "alice");
    let task = alice.create(json!({"title": "after the poison"})).await;
    let history = alice
        .items_once(
            &format!("/tasks/{}/history", task["id"].as_str().unwrap()),
            1,
        )
        .await;
    assert_eq!(
        history.len(),
        1,
        "the record after the poison one is processed"
    );

    let dead = eventually("three records in todo.dead.letter", || async {
        let records = cloud
            .kafka
            .read_partition("todo.dead.letter", 0)
            .await
            .ok()?;
        (records.len() >= 3).then_some(records)
    })
    .await;
    assert_eq!(dead.len(), 3, "each poison record once");
    for r in &dead {
        assert_eq!(
            r.record.value.as_deref(),
            Some(&b"definitely not an event"[..])
        );
        assert!(r.record.headers.contains_key("dlt.error"));
        assert_eq!(r.record.headers["dlt.group"], b"todo-audit");
    }
}

#[tokio::test]
async fn a_consumer_killed_mid_batch_is_restarted_and_its_batch_retried_without_loss_or_duplicates()
{
    let data = DataDir::new("crash");
    let cloud = start(&data).await;
    cloud.webhook.delay(Duration::from_secs(5));
    let alice = Api::new(&cloud, "alice");
    alice
        .create(json!({"title": "Crash test", "reminders": [{"at": in_seconds(1)}]}))
        .await;

    // The consumer is inside its batch, waiting on the slow webhook: kill it there.
    eventually("the first webhook delivery", || async {
        (!cloud.webhook.received().is_empty()).then_some(())
    })
    .await;
    let consumer = &cloud.hosts["NotificationsConsumerFunction"];
    let pid = consumer.pid().expect("the consumer runs");
    cloud.webhook.delay(Duration::ZERO);
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    eventually("a second delivery from a new process", || async {
        (cloud.webhook.received().len() >= 2 && consumer.pid() != Some(pid)).then_some(())
    })
    .await;
    let deliveries: Vec<_> = cloud
        .webhook
        .received()
        .iter()
        .map(|r| r.headers["x-todo-delivery"].clone())
        .collect();
    assert!(
        deliveries.windows(2).all(|w| w[0] == w[1]),
        "the same notification, redelivered"
    );
    let inbox = alice.items_once("/notifications", 1).await;
    assert_eq!(inbox.len(), 1, "nothing lost, nothing duplicated");
}

#[tokio::test]
async fn a_restarted_cloud_keeps_tasks_offsets_and_pending_reminders() {
    let data = DataDir::new("restart-pipeline");
    let (alice, id) = {
        let cloud = start(&data).await;
        let alice = Api::new(&cloud, "alice");
        let task = alice
            .create(json!({"title": "Survives", "reminders": [{"at": in_seconds(6)}]}))
            .await;
        let id = task["id"].as_str().unwrap().to_string();
        alice.items_once(&format!("/tasks/{id}/history"), 1).await;
        (alice, id)
    };
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice").with_token_of(&alice);
    let inbox = alice.items_once("/notifications", 1).await;
    assert_eq!(
        inbox[0]["title"], "Survives",
        "the pending reminder fires after the restart"
    );
    let history = alice.get(&format!("/tasks/{id}/history")).await.body;
    assert_eq!(
        history["items"].as_array().unwrap().len(),
        1,
        "committed offsets and checkpoints held: nothing replayed twice"
    );
}
