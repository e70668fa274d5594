//! Failure handling through the local cloud: poison records, a crashed function, a restart.

use std::time::Duration;

use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use serde_json::json;
use todo_e2e::{Api, DataDir, dead_letters, eventually, in_seconds, kill9, start};

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

    // Three consumer groups read todo.task.events (the audit log, users' webhooks and the
    // realtime channel): each sets every poison record aside once, as its own.
    let dead = dead_letters(&cloud, 9).await;
    assert_eq!(dead.len(), 9, "each poison record once per group");
    let mut groups: Vec<&[u8]> = Vec::new();
    for r in &dead {
        assert_eq!(
            r.record.value.as_deref(),
            Some(&b"definitely not an event"[..])
        );
        assert!(r.record.headers.contains_key("dlt.error"));
        groups.push(&r.record.headers["dlt.group"]);
    }
    groups.sort();
    assert_eq!(
        groups,
        [
            &b"todo-audit"[..],
            b"todo-audit",
            b"todo-audit",
            b"todo-realtime",
            b"todo-realtime",
            b"todo-realtime",
            b"todo-user-webhooks-task-events",
            b"todo-user-webhooks-task-events",
            b"todo-user-webhooks-task-events"
        ]
    );
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
    let consumer = &cloud.hosts["WebhookChannelFunction"];
    let pid = consumer.pid().expect("the consumer runs");
    cloud.webhook.delay(Duration::ZERO);
    kill9(pid);

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

/// The children of a process (from /proc), with their state letter.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Whether a process is gone (reaped, or a zombie nobody has reaped yet).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Issue #7, defect 2: a `todo-local` killed with SIGKILL (no destructor runs) leaves no broker
/// or function process behind.
#[tokio::test]
async fn a_killed_todo_local_leaves_no_process_behind() {
    use tokio::io::AsyncBufReadExt;

    let data = DataDir::new("killed");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut local = tokio::process::Command::new(todo_e2e::bin_dir().join("todo-local"))
        // --verbose: the sweep's schedule runs are printed although they find nothing.
        .args([
            "--port",
            "0",
            "--schedule-every",
            "1",
            "--verbose",
            "--data",
        ])
        .arg(&data.0)
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = local.id().unwrap();
    let mut lines = tokio::io::BufReader::new(local.stdout.take().unwrap()).lines();
    // Up, and the schedule has started the sweep function's process too.
    let mut up = false;
    while let Ok(Some(line)) = lines.next_line().await {
        up |= line.starts_with("todo-local is up");
        if up && line.contains("SweepRemindersFunction") {
            break;
        }
    }
    assert!(up, "todo-local started");
    let children = children_of(pid);
    assert!(
        children.len() >= 2,
        "the broker and a function run: {children:?}"
    );
    kill9(pid);
    let _ = local.wait().await;
    eventually("every child of the killed todo-local ends", || async {
        children.iter().all(|&c| is_dead(c)).then_some(())
    })
    .await;
}

/// A consumer group whose committed offsets lie past the end of its topic (the topic was
/// deleted and made again, e.g. by the topics resource after a broker lost its data) starts
/// again from the topic's first record instead of silently skipping everything new.
#[tokio::test]
async fn offsets_past_a_recreated_topics_end_restart_from_its_beginning() {
    let data = DataDir::new("recreated-topic");
    let cloud = start(&data).await;
    let offsets = data.0.join("esm/todo-notifications.offsets");
    for partition in 0..3 {
        std::fs::create_dir_all(&offsets).unwrap();
        std::fs::write(offsets.join(format!("todo.reminders-{partition}")), "1000").unwrap();
    }
    let alice = Api::new(&cloud, "alice");
    alice
        .create(json!({"title": "After the reset", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    let inbox = alice.items_once("/notifications?unread=true", 1).await;
    assert_eq!(inbox[0]["title"], "After the reset");
}
