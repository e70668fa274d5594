//! Regressions of the defects an outside attack found (issue #7), through the local cloud with
//! the real function binaries: each test failed on the code before its fix.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use todo_e2e::{Api, DataDir, dead_letters, id, in_seconds, kill9, start};
use todo_local::testing::apigw::problem_fields;

/// Defect 1: an instant whose UTC form leaves years 0000-9999 is refused with its field.
#[tokio::test]
async fn instants_outside_years_0000_to_9999_are_refused_with_their_field() {
    let data = DataDir::new("attack-instants");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let cases = [
        (
            json!({"title": "x", "reminders": [{"at": "9999-12-31T23:59:59-23:59"}]}),
            "reminders[0].at",
        ),
        (
            json!({"title": "x", "due": {"at": "0000-01-01T00:00:00+00:01", "tz": "UTC"}}),
            "due.at",
        ),
        (
            json!({"title": "x", "due": {"at": "0000-01-01T00:10:00Z", "tz": "UTC"},
                   "reminders": [{"before_due_minutes": 30}]}),
            "reminders[0]",
        ),
    ];
    for (body, field) in cases {
        let answer = alice.post("/tasks", body.clone()).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert_eq!(
            answer.headers["content-type"], "application/problem+json",
            "{body}"
        );
        assert_eq!(problem_fields(&answer.body), [field], "{body}");
    }
    let task = alice.create(json!({"title": "edge"})).await;
    let patch = Api::send(
        alice
            .request("PATCH", &format!("/tasks/{}", id(&task)))
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"due":{"at":"9999-12-31T23:59:59.999-00:01","tz":"UTC"}}"#),
    )
    .await;
    assert_eq!(
        (patch.status, problem_fields(&patch.body)),
        (422, vec!["due.at".to_string()])
    );

    // The last representable year: a yearly series there ends instead of leaving the range.
    let last = alice
        .create(
            json!({"title": "last", "due": {"at": "9999-06-01T10:00:00Z", "tz": "UTC"},
                       "recurrence": "FREQ=YEARLY"}),
        )
        .await;
    let done = alice
        .post(&format!("/tasks/{}/complete", id(&last)), json!({}))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.headers.get("link").is_none(),
        "no occurrence past 9999"
    );
    assert_eq!(alice.get("/tasks").await.status, 200);
    assert_eq!(
        alice.get(&format!("/tasks/{}", id(&last))).await.status,
        200
    );
}

/// Defect 1: an item that cannot be read (as an older, laxer version stored it) stops neither
/// its owner's list, nor the sweep for other users, nor the publisher for other tasks.
#[tokio::test]
async fn an_unreadable_item_stops_no_page_sweep_or_batch_for_anyone_else() {
    let data = DataDir::new("attack-unreadable");
    let cloud = start(&data).await;
    let mallory = Api::new(&cloud, "mallory");
    let alice = Api::new(&cloud, "alice");
    let db = cloud.dynamo.client().await;

    // One corrupt task in every reminder shard, due "before" everything (`+10000` and `-0001`
    // sort first), each recording a new event so the stream carries it to the publisher.
    let mut corrupt = Vec::new();
    for shard in 0..4 {
        let task = mallory
            .create(
                json!({"title": format!("bomb {shard}"), "reminders": [{"at": in_seconds(3600)}]}),
            )
            .await;
        let key = HashMap::from([
            ("pk".to_string(), AttributeValue::S("USER#mallory".into())),
            (
                "sk".to_string(),
                AttributeValue::S(format!("TASK#{}", id(&task))),
            ),
        ]);
        let mut item = db
            .get_item()
            .table_name("TasksTable")
            .set_key(Some(key))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let year = if shard % 2 == 0 { "+10000" } else { "-0001" };
        let bad = AttributeValue::S(format!("{year}-01-01T00:00:00.000Z"));
        item.insert("rem_at".into(), bad.clone());
        item.insert("rem_pk".into(), AttributeValue::S(format!("REM#{shard}")));
        item.insert(
            "due".into(),
            AttributeValue::M(HashMap::from([
                ("at".to_string(), bad),
                ("tz".to_string(), AttributeValue::S("UTC".into())),
            ])),
        );
        item.insert(
            "ev_id".into(),
            AttributeValue::S(format!("0190a000-0000-7000-8000-00000000000{shard}")),
        );
        db.put_item()
            .table_name("TasksTable")
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
        corrupt.push(id(&task));
    }

    let listed = mallory.get("/tasks").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);

    let task = alice
        .create(json!({"title": "Water the plants", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    let inbox = alice.items_once("/notifications", 1).await;
    assert_eq!(inbox[0]["title"], "Water the plants");
    alice
        .items_once(&format!("/tasks/{}/history", id(&task)), 1)
        .await;

    // The publisher set the corrupt records aside in the dead-letter topic, with the reason.
    let dead = dead_letters(&cloud, 4).await;
    for r in &dead {
        assert_eq!(r.record.headers["dlt.function"], b"publisher");
        let error = String::from_utf8_lossy(&r.record.headers["dlt.error"]).to_string();
        assert!(error.contains("task image"), "{error}");
    }
    // The sweep took them out of the reminders index, so they cannot fill its pages.
    for task in &corrupt {
        let item = db
            .get_item()
            .table_name("TasksTable")
            .key("pk", AttributeValue::S("USER#mallory".into()))
            .key("sk", AttributeValue::S(format!("TASK#{task}")))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert!(!item.contains_key("rem_pk"), "set aside from the index");
        assert!(item.contains_key("rem_unreadable"));
    }
    // Its owner can still delete it.
    let deleted = mallory
        .call("DELETE", &format!("/tasks/{}", corrupt[0]), None, None)
        .await;
    assert_eq!(deleted.status, 204);
}

/// Defect 3: a task's history is in version order and its times never go backwards; a delete
/// comes after the change before it, however fast it follows.
#[tokio::test]
async fn history_follows_versions_and_times_never_go_backwards() {
    let data = DataDir::new("attack-order");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let mut ids = Vec::new();
    for i in 0..3 {
        let task = alice.create(json!({"title": format!("quick {i}")})).await;
        let path = format!("/tasks/{}", id(&task));
        alice.post(&format!("{path}/complete"), json!({})).await;
        alice.call("DELETE", &path, None, None).await;
        ids.push(id(&task));
    }
    for task in ids {
        let history = alice.items_once(&format!("/tasks/{task}/history"), 3).await;
        let ops: Vec<&str> = history
            .iter()
            .map(|e| e["operation"].as_str().unwrap())
            .collect();
        assert_eq!(ops, ["task.created", "task.completed", "task.deleted"]);
        let versions: Vec<u64> = history
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect();
        assert_eq!(versions, [1, 2, 3]);
        let times: Vec<&str> = history
            .iter()
            .map(|e| e["time"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    }
}

/// Defect 4: an occurrence creates its successor once, however often it is reopened.
#[tokio::test]
async fn complete_reopen_complete_never_doubles_a_series() {
    let data = DataDir::new("attack-series");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let task = alice
        .create(
            json!({"title": "Daily", "due": {"at": "2031-01-01T09:00:00Z", "tz": "UTC"},
                       "recurrence": "FREQ=DAILY;COUNT=3"}),
        )
        .await;
    let path = format!("/tasks/{}", id(&task));
    let first = alice.post(&format!("{path}/complete"), json!({})).await;
    let next_id = first.body["next_id"].as_str().expect("next_id").to_string();
    for _ in 0..2 {
        assert_eq!(
            alice
                .post(&format!("{path}/reopen"), json!({}))
                .await
                .status,
            200
        );
        let again = alice.post(&format!("{path}/complete"), json!({})).await;
        assert_eq!(again.status, 200);
        assert_eq!(
            again.body["next_id"],
            next_id.as_str(),
            "the same successor"
        );
    }
    let open = alice.get("/tasks?status=open").await.body;
    let open = open["items"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["id"], next_id.as_str());
}

/// Defects 5 and 6: validation gaps, problem+json everywhere, and preconditions on no-op
/// transitions.
#[tokio::test]
async fn bad_input_gets_a_clear_problem_and_stale_preconditions_fail_everywhere() {
    let data = DataDir::new("attack-input");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    for rule in [
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=MONTHLY;BYDAY=0MO",
    ] {
        let answer = alice
            .post(
                "/tasks",
                json!({"title": "x", "due": {"at": "2031-01-01T09:00:00Z", "tz": "UTC"},
                       "recurrence": rule}),
            )
            .await;
        assert_eq!(
            (answer.status, problem_fields(&answer.body)),
            (422, vec!["recurrence".to_string()]),
            "{rule}"
        );
    }
    let duplicate = Api::send(
        alice
            .request("POST", "/tasks")
            .header("content-type", "application/json")
            .body(r#"{"title":"first","title":"second"}"#),
    )
    .await;
    assert_eq!(duplicate.status, 400, "{}", duplicate.body);
    assert_eq!(
        duplicate.headers["content-type"],
        "application/problem+json"
    );

    let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(100_000));
    let too_big = Api::send(
        alice
            .request("POST", "/tasks")
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    assert_eq!(too_big.status, 413);
    assert_eq!(too_big.headers["content-type"], "application/problem+json");
    // Past Lambda's 6 MB payload quota the gateway answers in its own shape, as AWS's does.
    let huge = Api::send(
        alice
            .request("POST", "/tasks")
            .header("content-type", "application/json")
            .body(vec![b' '; 7 * 1024 * 1024]),
    )
    .await;
    assert_eq!(huge.status, 413);
    assert_eq!(huge.body, json!({"message": "Request Entity Too Large"}));

    let task = alice.create(json!({"title": "x"})).await;
    let path = format!("/tasks/{}", id(&task));
    let stale = r#""999""#;
    let reopen = Api::send(
        alice
            .request("POST", &format!("{path}/reopen"))
            .header("if-match", stale),
    )
    .await;
    assert_eq!(
        reopen.status, 412,
        "reopen of an open task: {}",
        reopen.body
    );
    assert_eq!(reopen.headers["content-type"], "application/problem+json");
    alice.post(&format!("{path}/complete"), json!({})).await;
    let complete = Api::send(
        alice
            .request("POST", &format!("{path}/complete"))
            .header("if-match", stale),
    )
    .await;
    assert_eq!(
        complete.status, 412,
        "complete of a completed task: {}",
        complete.body
    );
}

/// Defect 7: the local authorizer refuses what the HTTP API's JWT authorizer refuses, and takes
/// the scheme in any case.
#[tokio::test]
async fn the_local_authorizer_checks_what_the_http_api_authorizer_checks() {
    let data = DataDir::new("attack-auth");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let now = chrono::Utc::now().timestamp();
    let good = json!({"sub": "alice", "iss": cloud.auth.issuer(), "aud": "todo-local", "iat": now, "exp": now + 600});
    let variant = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        cloud.auth.sign(&claims)
    };
    let refused = [
        variant(&|c| {
            c.as_object_mut().unwrap().remove("iss");
        }),
        variant(&|c| c["nbf"] = json!(now + 600)),
        variant(&|c| c["sub"] = Value::Null),
        variant(&|c| c["iat"] = json!((now + 600).to_string())),
    ];
    for token in refused {
        let answer = alice.call("GET", "/tasks", None, Some(&token)).await;
        assert_eq!(answer.status, 401);
    }
    let token = cloud.auth.sign(&good);
    for header in [
        format!("BEARER {token}"),
        format!("bearer {token}"),
        token.clone(),
    ] {
        let answer = Api::send(
            reqwest::Client::new()
                .get(format!("{}/tasks", cloud.api_url))
                .header("authorization", header.clone()),
        )
        .await;
        assert_eq!(answer.status, 200, "{header}");
    }
}

/// Defect 2: a broker that dies is restarted, and the events of changes made meanwhile all reach
/// the audit log, in order.
#[tokio::test]
async fn a_broker_that_dies_is_restarted_and_no_event_is_lost() {
    let data = DataDir::new("attack-broker");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let task = alice.create(json!({"title": "v1"})).await;
    let path = format!("/tasks/{}", id(&task));
    alice.items_once(&format!("{path}/history"), 1).await;

    let pid = cloud.kafka.pid().await.expect("the broker runs");
    kill9(pid);
    for n in 2..=6 {
        let patch = alice
            .call(
                "PATCH",
                &path,
                Some(json!({"title": format!("v{n}")})),
                None,
            )
            .await;
        assert_eq!(patch.status, 200);
    }
    let history = alice.items_once(&format!("{path}/history"), 6).await;
    let titles: Vec<&str> = history
        .iter()
        .map(|e| e["after"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["v1", "v2", "v3", "v4", "v5", "v6"]);
    assert_ne!(cloud.kafka.pid().await, Some(pid), "a new broker process");
}
