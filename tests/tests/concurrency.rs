//! Races through real parallel processes: the local cloud runs several execution environments
//! of a function at once, as Lambda does, so these requests meet in DynamoDB from different
//! processes, not one after another in one.

use serde_json::json;
use todo_e2e::{Api, DataDir, id, start};

const RACERS: usize = 8;

/// Starts `RACERS` requests at once and waits for all of them.
async fn all<F, Fut>(f: F) -> Vec<todo_e2e::Answer>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = todo_e2e::Answer> + Send + 'static,
{
    let racers: Vec<_> = (0..RACERS).map(|i| tokio::spawn(f(i))).collect();
    let mut answers = Vec::new();
    for racer in racers {
        answers.push(racer.await.expect("a racer finishes"));
    }
    answers
}

fn statuses(answers: &[todo_e2e::Answer]) -> Vec<u16> {
    let mut s: Vec<u16> = answers.iter().map(|a| a.status).collect();
    s.sort_unstable();
    s
}

#[tokio::test]
async fn racing_writers_in_parallel_processes_get_exactly_one_winner() {
    let data = DataDir::new("races");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");

    // The same If-Match from eight processes: one 200, seven 412.
    let task = alice.create(json!({"title": "contended"})).await;
    let path = format!("/tasks/{}", id(&task));
    let answers = all(|i| {
        let alice = alice.clone();
        let path = path.clone();
        async move {
            Api::send(
                alice
                    .request("PATCH", &path)
                    .header("content-type", "application/merge-patch+json")
                    .header("if-match", "\"1\"")
                    .body(json!({ "title": format!("writer {i}") }).to_string()),
            )
            .await
        }
    })
    .await;
    assert_eq!(statuses(&answers), [200, 412, 412, 412, 412, 412, 412, 412]);
    assert!(
        cloud.hosts["UpdateTaskFunction"].environments().await >= 2,
        "the PATCHes ran in more than one process"
    );

    // The same Idempotency-Key from eight processes: one task, every answer the same.
    let answers = all(|_| {
        let alice = alice.clone();
        async move {
            Api::send(
                alice
                    .request("POST", "/tasks")
                    .header("content-type", "application/json")
                    .header("idempotency-key", "race-1")
                    .body(json!({"title": "once", "tags": ["idem"]}).to_string()),
            )
            .await
        }
    })
    .await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| id(&a.body))
        .collect();
    assert_eq!(ids.len(), 1, "{:?}", statuses(&answers));
    assert!(
        answers.iter().all(|a| a.status == 201 || a.status == 409),
        "{:?}",
        statuses(&answers)
    );
    let listed = alice.get("/tasks?tag=idem").await.body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Completing one occurrence of a series eight times at once: one successor.
    let series = alice
        .create(json!({"title": "daily", "tags": ["series"],
                       "due": {"at": "2031-01-01T09:00:00Z", "tz": "UTC"},
                       "recurrence": "FREQ=DAILY"}))
        .await;
    let complete = format!("/tasks/{}/complete", id(&series));
    let answers = all(|_| {
        let alice = alice.clone();
        let complete = complete.clone();
        async move { Api::send(alice.request("POST", &complete)).await }
    })
    .await;
    assert!(
        answers.iter().all(|a| a.status == 200 || a.status == 409),
        "{:?}",
        statuses(&answers)
    );
    let open = alice.get("/tasks?tag=series&status=open").await.body;
    assert_eq!(
        open["items"].as_array().unwrap().len(),
        1,
        "one next occurrence"
    );

    // Complete against delete: whichever wins, no 500 and the task ends deleted.
    let doomed = alice.create(json!({"title": "doomed"})).await;
    let path = format!("/tasks/{}", id(&doomed));
    let answers = all(|i| {
        let alice = alice.clone();
        let path = path.clone();
        async move {
            if i % 2 == 0 {
                Api::send(alice.request("POST", &format!("{path}/complete"))).await
            } else {
                Api::send(alice.request("DELETE", &path)).await
            }
        }
    })
    .await;
    assert!(
        answers
            .iter()
            .all(|a| [200, 204, 404, 409].contains(&a.status)),
        "{:?}",
        statuses(&answers)
    );
    assert_eq!(alice.get(&path).await.status, 404);
}

/// Lambda's Kafka pollers process partitions in parallel (each in order): a partition whose
/// batch waits on a slow webhook does not hold the others. With the receiver answering after
/// 2 s, deliveries from two partitions arriving less than 2 s apart can only have overlapped.
#[tokio::test]
async fn kafka_partitions_are_consumed_in_parallel() {
    use std::time::Duration;
    use todo_kafka::partitioner::partition_for;

    const DELAY: Duration = Duration::from_secs(2);
    let data = DataDir::new("partitions");
    let cloud = start(&data).await;
    cloud.webhook.delay(DELAY);
    let alice = Api::new(&cloud, "alice");
    let mut partitions = std::collections::BTreeSet::new();
    while partitions.len() < 2 {
        let task = alice
            .create(json!({"title": "in parallel", "reminders": [{"at": todo_e2e::in_seconds(1)}]}))
            .await;
        partitions.insert(partition_for(id(&task).as_bytes(), 3));
    }
    let arrivals = todo_e2e::eventually("deliveries from two partitions", || async {
        let mut first_per_partition = std::collections::BTreeMap::new();
        for r in cloud.webhook.received() {
            let body: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
            let p = partition_for(body["task_id"].as_str()?.as_bytes(), 3);
            first_per_partition.entry(p).or_insert(r.at);
        }
        (first_per_partition.len() >= 2).then_some(first_per_partition)
    })
    .await;
    let times: Vec<_> = arrivals.values().collect();
    let gap = if times[0] > times[1] {
        *times[0] - *times[1]
    } else {
        *times[1] - *times[0]
    };
    assert!(
        gap < DELAY,
        "the second partition's first delivery came {gap:?} after the first's: partitions were consumed one after another"
    );
}
