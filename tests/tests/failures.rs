//! Failure handling through the local cloud: poison records, a crashed function, a restart.

use std::time::{Duration, Instant};

use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use serde_json::{Value, json};
use todo_e2e::{DataDir, start};

async fn eventually<F, Fut, T>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> Option<Value> {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

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
    let http = reqwest::Client::new();
    let token = cloud.auth.token("alice", 1);
    let task: Value = http
        .post(format!("{}/tasks", cloud.api_url))
        .bearer_auth(&token)
        .json(&json!({"title": "after the poison"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let history_url = format!(
        "{}/tasks/{}/history",
        cloud.api_url,
        task["id"].as_str().unwrap()
    );
    eventually("the later record's audit entry", || {
        let (http, url, token) = (http.clone(), history_url.clone(), token.clone());
        async move {
            let page = get(&http, url, &token).await?;
            (page["items"].as_array()?.len() == 1).then_some(())
        }
    })
    .await;
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
    let http = reqwest::Client::new();
    let token = cloud.auth.token("alice", 1);
    http.post(format!("{}/tasks", cloud.api_url))
        .bearer_auth(&token)
        .json(&json!({"title": "Crash test", "reminders": [{"at": in_seconds(1)}]}))
        .send()
        .await
        .unwrap();
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
    let inbox = eventually("the notification", || {
        let (http, url, token) = (
            http.clone(),
            format!("{}/notifications", cloud.api_url),
            token.clone(),
        );
        async move {
            let page = get(&http, url, &token).await?;
            (!page["items"].as_array()?.is_empty()).then_some(page)
        }
    })
    .await;
    assert_eq!(
        inbox["items"].as_array().unwrap().len(),
        1,
        "nothing lost, nothing duplicated"
    );
}

#[tokio::test]
async fn a_restarted_cloud_keeps_tasks_offsets_and_pending_reminders() {
    let data = DataDir::new("restart-pipeline");
    let http = reqwest::Client::new();
    let (token, id) = {
        let cloud = start(&data).await;
        let token = cloud.auth.token("alice", 1);
        let task: Value = http
            .post(format!("{}/tasks", cloud.api_url))
            .bearer_auth(&token)
            .json(&json!({"title": "Survives", "reminders": [{"at": in_seconds(6)}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = task["id"].as_str().unwrap().to_string();
        let url = format!("{}/tasks/{id}/history", cloud.api_url);
        eventually("the audit entry before the restart", || {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move { (get(&http, url, &token).await?["items"].as_array()?.len() == 1).then_some(()) }
        })
        .await;
        (token, id)
    };
    let cloud = start(&data).await;
    let inbox = eventually("the reminder after the restart", || {
        let (http, url, token) = (
            http.clone(),
            format!("{}/notifications", cloud.api_url),
            token.clone(),
        );
        async move {
            let page = get(&http, url, &token).await?;
            (!page["items"].as_array()?.is_empty()).then_some(page)
        }
    })
    .await;
    assert_eq!(inbox["items"][0]["title"], "Survives");
    let history = get(
        &http,
        format!("{}/tasks/{id}/history", cloud.api_url),
        &token,
    )
    .await
    .unwrap();
    assert_eq!(
        history["items"].as_array().unwrap().len(),
        1,
        "committed offsets and checkpoints held: nothing replayed twice"
    );
}
