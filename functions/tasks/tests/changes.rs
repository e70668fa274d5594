//! Delta sync (`GET /tasks/changes`) over the real handlers and a real DynamoDB API: a client
//! that applies the changes in order holds exactly what `GET /tasks` lists, whatever the
//! interleaving of commands and syncs on two devices and however far apart in time; tokens are
//! bound to their caller, and a token too old to be trusted is a 410.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};
use support::*;
use todo_schema::command::TaskPatch;
use todo_schema::{Actor, NewTask, TaskId, Timestamp};
use todo_tasks::store::{
    CompleteTask, CreateTask, DeleteTask, ReopenTask, SYNC_OVERLAP, TaskWrite, UpdateTask,
};

/// A device's copy of its user's tasks, built only from what sync answered.
#[derive(Default)]
struct Replica {
    tasks: BTreeMap<String, Value>,
    since: Option<String>,
}

impl Replica {
    /// Syncs to the end of the changes (`has_more: false`), as read at `now`, pages of 3.
    async fn sync(&mut self, h: &Harness, user: &str, now: Timestamp) {
        for _ in 0..1_000 {
            let mut c = call("GET", "/tasks/changes").user(user).query("limit", "3");
            if let Some(since) = &self.since {
                c = c.query("since", since);
            }
            let reply = h.changes_at(c.request(), now).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            for change in reply.body["changes"].as_array().expect("changes") {
                match change["op"].as_str() {
                    Some("upsert") => {
                        assert_eq!(change["task"]["owner"], user, "only the caller's tasks");
                        self.tasks
                            .insert(id_of(&change["task"]), change["task"].clone());
                    }
                    Some("delete") => {
                        self.tasks.remove(change["id"].as_str().expect("id"));
                    }
                    other => panic!("unknown op {other:?}"),
                }
            }
            self.since = Some(reply.body["next_since"].as_str().expect("token").into());
            if reply.body["has_more"] == json!(false) {
                return;
            }
        }
        panic!("a sync never ended");
    }
}

/// Every task `GET /tasks` lists for `user`, all pages, by id.
async fn listed(h: &Harness, user: &str) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut c = call("GET", "/tasks").user(user).query("limit", "100");
        if let Some(cur) = &cursor {
            c = c.query("cursor", cur);
        }
        let reply = c.send(h).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        for task in reply.body["items"].as_array().expect("items") {
            all.insert(id_of(task), task.clone());
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.into()),
            None => return all,
        }
    }
}

/// A command one of the user's devices sends, or a sync, on a clock that `advance` moves on.
#[derive(Clone, Debug)]
enum Step {
    Create,
    Rename(usize),
    Complete(usize),
    Reopen(usize),
    Delete(usize),
    Sync(usize),
    /// Another user's change, which no replica may ever see.
    Other,
    /// Time passes: within the overlap, just past it, or an hour.
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Create),
        3 => (0usize..8).prop_map(Step::Rename),
        2 => (0usize..8).prop_map(Step::Complete),
        1 => (0usize..8).prop_map(Step::Reopen),
        2 => (0usize..8).prop_map(Step::Delete),
        3 => (0usize..2).prop_map(Step::Sync),
        1 => Just(Step::Other),
        2 => prop_oneof![Just(1u64), Just(59), Just(61), Just(3_600)].prop_map(Step::Advance),
    ]
}

async fn play(steps: Vec<Step>) {
    let h = Harness::new().await;
    let alice = Actor::User { id: ALICE.into() };
    let bob = Actor::User { id: BOB.into() };
    let mut clock = Timestamp::now().before(Duration::from_secs(30 * 86_400));
    let mut devices = [Replica::default(), Replica::default()];
    let mut ids: Vec<TaskId> = Vec::new();
    let mut n = 0;
    for step in steps {
        // Every command is stamped a millisecond later than the last.
        clock = clock.successor();
        n += 1;
        let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
        match step {
            Step::Create | Step::Other => {
                let (owner, actor) = match step {
                    Step::Other => (BOB, &bob),
                    _ => (ALICE, &alice),
                };
                let new: NewTask =
                    serde_json::from_value(json!({"title": format!("t{n}")})).unwrap();
                let task = new.into_task(TaskId::generate(), owner, clock).unwrap();
                h.store.create(&task, actor, None).await.unwrap();
                if owner == ALICE {
                    ids.push(task.id);
                }
            }
            Step::Rename(i) => {
                if let Some(id) = pick(i) {
                    let patch: TaskPatch =
                        serde_json::from_value(json!({"title": format!("r{n}")})).unwrap();
                    let _ = h
                        .store
                        .update(
                            &TaskWrite::new(ALICE, id, &alice, clock),
                            &patch.check().unwrap(),
                        )
                        .await;
                }
            }
            Step::Complete(i) => {
                if let Some(id) = pick(i) {
                    let _ = h
                        .store
                        .complete(&TaskWrite::new(ALICE, id, &alice, clock))
                        .await;
                }
            }
            Step::Reopen(i) => {
                if let Some(id) = pick(i) {
                    let _ = h
                        .store
                        .reopen(&TaskWrite::new(ALICE, id, &alice, clock))
                        .await;
                }
            }
            Step::Delete(i) => {
                if let Some(id) = pick(i) {
                    let _ = h.store.delete(ALICE, id, None, clock).await;
                }
            }
            Step::Sync(d) => devices[d].sync(&h, ALICE, clock).await,
            Step::Advance(secs) => clock = clock.after(Duration::from_secs(secs)),
        }
    }
    let expected = listed(&h, ALICE).await;
    for (d, device) in devices.iter_mut().enumerate() {
        device.sync(&h, ALICE, clock).await;
        assert_eq!(device.tasks, expected, "device {d} converges to GET /tasks");
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 24,
        rng_seed: RngSeed::Fixed(0x0051_c0de),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn two_devices_applying_changes_in_order_converge_to_the_list(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(play(steps));
    }
}

#[tokio::test]
async fn a_change_stamped_before_the_last_sync_but_committed_after_it_is_not_missed() {
    let h = Harness::new().await;
    let alice = Actor::User { id: ALICE.into() };
    let now = Timestamp::now();
    let mut device = Replica::default();
    device.sync(&h, ALICE, now).await;
    assert!(device.tasks.is_empty());
    // A command that started (and took its stamp) just inside the overlap before that sync,
    // and committed only after it.
    let late = now.before(SYNC_OVERLAP).after(Duration::from_secs(1));
    let new: NewTask = serde_json::from_value(json!({"title": "late"})).unwrap();
    let task = new.into_task(TaskId::generate(), ALICE, late).unwrap();
    h.store.create(&task, &alice, None).await.unwrap();
    device
        .sync(&h, ALICE, now.after(Duration::from_secs(1)))
        .await;
    assert_eq!(device.tasks.len(), 1, "the late commit reaches the device");
    // Syncing again repeats it, in its current state: applying it again changes nothing.
    device
        .sync(&h, ALICE, now.after(Duration::from_secs(2)))
        .await;
    assert_eq!(device.tasks, listed(&h, ALICE).await);
}

#[tokio::test]
async fn a_deletion_arrives_as_a_tombstone_and_paging_neither_skips_nor_repeats() {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(id_of(
            &h.create(ALICE, json!({"title": format!("t{i}")})).await,
        ));
    }
    let first = call("GET", "/tasks/changes")
        .query("limit", "5")
        .send(&h)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["changes"].as_array().unwrap().len(), 5);
    assert_eq!(first.body["has_more"], true);
    let second = call("GET", "/tasks/changes")
        .query("limit", "5")
        .query("since", first.body["next_since"].as_str().unwrap())
        .send(&h)
        .await;
    assert_eq!(second.body["changes"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["has_more"], false);
    let mut seen: Vec<_> = first.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["changes"].as_array().unwrap())
        .map(|c| id_of(&c["task"]))
        .collect();
    seen.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(seen, all, "every task once");

    let deleted = call("DELETE", format!("/tasks/{}", ids[3])).send(&h).await;
    assert_eq!(deleted.status, 204);
    let after = call("GET", "/tasks/changes")
        .query("since", second.body["next_since"].as_str().unwrap())
        .send(&h)
        .await;
    let tombstone = after.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "delete")
        .cloned()
        .expect("a tombstone");
    assert_eq!(tombstone["id"], ids[3].as_str());
    assert!(tombstone["deleted_at"].as_str().is_some());
    // A second delete is still a 404, tombstone or not.
    let again = call("DELETE", format!("/tasks/{}", ids[3])).send(&h).await;
    assert_eq!(again.status, 404);
    let get = call("GET", format!("/tasks/{}", ids[3])).send(&h).await;
    assert_eq!(get.status, 404);
    // The tombstone is no task: the list and its sorts never show it.
    for sort in ["created", "updated", "due", "title", "priority"] {
        let list = call("GET", "/tasks").query("sort", sort).send(&h).await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            6,
            "sort={sort}"
        );
    }
    // A stale If-Match still refuses the delete with 412 and leaves no tombstone.
    let stale = call("DELETE", format!("/tasks/{}", ids[0]))
        .header("if-match", "\"7\"")
        .send(&h)
        .await;
    assert_eq!(stale.status, 412);
}

#[tokio::test]
async fn tokens_are_the_callers_own_and_expire_with_a_410() {
    let h = Harness::new().await;
    h.create(ALICE, json!({"title": "a"})).await;
    let now = Timestamp::now();
    let reply = h
        .changes_at(call("GET", "/tasks/changes").request(), now)
        .await;
    let token = reply.body["next_since"].as_str().unwrap().to_string();

    let bob = h
        .changes_at(
            call("GET", "/tasks/changes")
                .user(BOB)
                .query("since", &token)
                .request(),
            now,
        )
        .await;
    assert_eq!(bob.status, 400, "another user's token: {}", bob.body);

    let mut tampered = token.clone().into_bytes();
    tampered[4] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap();
    for (c, status) in [
        (call("GET", "/tasks/changes").query("since", &tampered), 400),
        (call("GET", "/tasks/changes").query("since", ""), 400),
        (
            call("GET", "/tasks/changes").query("since", "2026-01-01T00:00:00Z"),
            400,
        ),
        (
            call("GET", "/tasks/changes")
                .query("since", &token)
                .query("since", &token),
            400,
        ),
        (call("GET", "/tasks/changes").query("limit", "0"), 400),
        (call("GET", "/tasks/changes").query("limit", "101"), 400),
        (call("GET", "/tasks/changes").query("after", "x"), 400),
        (call("GET", "/tasks/changes").anonymous(), 401),
    ] {
        let event = c.event();
        let reply = h.changes_at(c.request(), now).await;
        assert_eq!(reply.status, status, "{event}\n{}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }

    // 29 days on, the token still works; 31 days on it is refused with a re-sync hint.
    let day = Duration::from_secs(86_400);
    let fine = h
        .changes_at(
            call("GET", "/tasks/changes")
                .query("since", &token)
                .request(),
            now.after(day * 29),
        )
        .await;
    assert_eq!(fine.status, 200, "{}", fine.body);
    let gone = h
        .changes_at(
            call("GET", "/tasks/changes")
                .query("since", &token)
                .request(),
            now.after(day * 31),
        )
        .await;
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert_eq!(
        gone.body["type"],
        "urn:serverless-todo:problem:sync-token-expired"
    );
    assert!(
        gone.body["detail"]
            .as_str()
            .unwrap()
            .contains("without since")
    );
}
