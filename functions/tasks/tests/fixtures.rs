//! Every sample event in `events/http/` (the files `sam local invoke -e` takes) goes through its
//! handler and gets the answer its route promises.

mod support;

use std::path::Path;

use support::*;
use todo_schema::{Actor, NewTask, Timestamp};
use todo_tasks::store::CreateTask;

/// The task the sample events name.
const SAMPLE_ID: &str = "0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e";

fn fixture(name: &str) -> lambda_http::Request {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/http")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is not an HTTP API event: {e}"))
}

#[tokio::test]
async fn every_sample_event_runs_through_its_handler() {
    let h = Harness::new().await;
    let seed: NewTask =
        serde_json::from_value(serde_json::json!({"title": "Water the plants", "tags": ["home"]}))
            .unwrap();
    let task = seed
        .into_task(SAMPLE_ID.parse().unwrap(), ALICE, Timestamp::now())
        .unwrap();
    h.store
        .create(&task, &Actor::User { id: ALICE.into() }, None)
        .await
        .unwrap();

    let order = [
        ("create-task.json", 201),
        ("list-tasks.json", 200),
        ("get-task.json", 200),
        ("update-task.json", 200),
        ("complete-task.json", 200),
        ("reopen-task.json", 200),
        ("delete-task.json", 204),
        ("sync-tasks.json", 200),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/http");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with("-task.json") || f.ends_with("-tasks.json"))
        .collect();
    files.sort();
    let mut covered: Vec<_> = order.iter().map(|(f, _)| f.to_string()).collect();
    covered.sort();
    assert_eq!(
        files, covered,
        "every sample event of a tasks route is exercised"
    );

    for (name, status) in order {
        let reply = h.send(fixture(name)).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
    }
    let list = h.send(fixture("list-tasks.json")).await;
    let titles: Vec<_> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(
        titles,
        ["Water the plants"],
        "the created sample remains; the seeded one was deleted"
    );
    let sync = h.send(fixture("sync-tasks.json")).await;
    let ops: Vec<_> = sync.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["op"].clone())
        .collect();
    assert_eq!(
        ops,
        ["upsert"],
        "a first sync is the current set: {}",
        sync.body
    );
}
