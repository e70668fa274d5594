//! `GET /tasks`: filters, sorts and cursor paging against a real DynamoDB API.

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use support::*;

fn titles(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

async fn seed(h: &Harness) {
    let tasks = [
        json!({"title": "Buy milk", "priority": "low", "tags": ["home", "shop"], "due": {"at": "2020-01-01T10:00:00Z", "tz": "UTC"}}),
        json!({"title": "File taxes", "priority": "urgent", "tags": ["admin"], "notes": "Ask the ACCOUNTANT", "due": {"at": "2030-04-15T10:00:00Z", "tz": "America/New_York"}}),
        json!({"title": "call plumber", "priority": "high", "tags": ["home"]}),
        json!({"title": "Água plants", "priority": "medium", "tags": ["home", "garden"], "due": {"at": "2030-01-02T08:00:00Z", "tz": "Europe/Lisbon"}}),
    ];
    for t in tasks {
        h.create(ALICE, t).await;
    }
    let bob = h
        .create(BOB, json!({"title": "Bob's milk", "tags": ["home"]}))
        .await;
    let done = h
        .create(
            ALICE,
            json!({"title": "Done thing", "priority": "high", "tags": ["home"]}),
        )
        .await;
    call("POST", format!("/tasks/{}/complete", id_of(&done)))
        .send(h)
        .await;
    assert!(bob["id"].is_string());
}

async fn list(h: &Harness, query: &[(&str, &str)]) -> Reply {
    let mut c = call("GET", "/tasks");
    for (k, v) in query {
        c = c.query(k, v);
    }
    let reply = c.send(h).await;
    assert_eq!(reply.status, 200, "{query:?}: {}", reply.body);
    reply
}

#[tokio::test]
async fn filters_combine_and_only_see_the_callers_tasks() {
    let h = Harness::new().await;
    seed(&h).await;
    let all = list(&h, &[]).await;
    assert_eq!(
        titles(&all),
        [
            "Buy milk",
            "File taxes",
            "call plumber",
            "Água plants",
            "Done thing"
        ]
    );
    assert!(all.body.get("next_cursor").is_none());

    assert_eq!(
        titles(&list(&h, &[("status", "completed")]).await),
        ["Done thing"]
    );
    assert_eq!(
        titles(&list(&h, &[("priority", "high,urgent")]).await),
        ["File taxes", "call plumber", "Done thing"]
    );
    assert_eq!(
        titles(&list(&h, &[("priority", "low"), ("priority", "urgent")]).await),
        ["Buy milk", "File taxes"]
    );
    assert_eq!(
        titles(&list(&h, &[("tag", "home"), ("tag", "garden")]).await),
        ["Água plants"]
    );
    assert_eq!(
        titles(&list(&h, &[("tag", "HOME"), ("status", "open")]).await),
        ["Buy milk", "call plumber", "Água plants"]
    );
    assert_eq!(titles(&list(&h, &[("q", "MILK")]).await), ["Buy milk"]);
    assert_eq!(
        titles(&list(&h, &[("q", "accountant")]).await),
        ["File taxes"],
        "notes are searched"
    );
    assert_eq!(titles(&list(&h, &[("q", "água")]).await), ["Água plants"]);
    assert_eq!(
        titles(&list(&h, &[("due_before", "2030-02-01T00:00:00Z")]).await),
        ["Buy milk", "Água plants"]
    );
    assert_eq!(
        titles(&list(&h, &[("due_after", "2030-01-02T08:00:00Z")]).await),
        ["File taxes", "Água plants"]
    );
    assert_eq!(
        titles(&list(&h, &[("overdue", "true")]).await),
        ["Buy milk"]
    );
    assert_eq!(
        titles(&list(&h, &[("overdue", "false"), ("tag", "home")]).await),
        ["call plumber", "Água plants", "Done thing"]
    );
}

#[tokio::test]
async fn every_sort_in_both_directions() {
    let h = Harness::new().await;
    seed(&h).await;
    let cases: [(&str, &[&str]); 5] = [
        (
            "created",
            &[
                "Buy milk",
                "File taxes",
                "call plumber",
                "Água plants",
                "Done thing",
            ],
        ),
        (
            "due",
            &[
                "Buy milk",
                "Água plants",
                "File taxes",
                "call plumber",
                "Done thing",
            ],
        ),
        (
            "priority",
            &[
                "Buy milk",
                "Água plants",
                "call plumber",
                "Done thing",
                "File taxes",
            ],
        ),
        (
            "title",
            &[
                "Buy milk",
                "call plumber",
                "Done thing",
                "File taxes",
                "Água plants",
            ],
        ),
        (
            "updated",
            &[
                "Buy milk",
                "File taxes",
                "call plumber",
                "Água plants",
                "Done thing",
            ],
        ),
    ];
    for (sort, ascending) in cases {
        assert_eq!(
            titles(&list(&h, &[("sort", sort)]).await),
            ascending,
            "{sort}"
        );
        let mut descending: Vec<_> = ascending.to_vec();
        descending.reverse();
        assert_eq!(
            titles(&list(&h, &[("sort", sort), ("order", "desc")]).await),
            descending,
            "{sort} desc"
        );
    }
    // Updating moves a task to the end of the `updated` order.
    let first = list(&h, &[("limit", "1")]).await.body["items"][0].clone();
    call("PATCH", format!("/tasks/{}", id_of(&first)))
        .json(json!({"notes": "touched"}))
        .send(&h)
        .await;
    let by_updated = titles(&list(&h, &[("sort", "updated")]).await);
    assert_eq!(by_updated.last().map(String::as_str), Some("Buy milk"));
}

async fn all_pages(h: &Harness, query: &[(&str, &str)]) -> (Vec<Value>, usize) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let reply = list(h, &q).await;
        pages += 1;
        seen.extend(reply.body["items"].as_array().unwrap().iter().cloned());
        match reply.body.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 100, "paging terminates");
    }
    (seen, pages)
}

#[tokio::test]
async fn paging_filtered_and_sorted_results_skips_and_repeats_nothing() {
    let h = Harness::new().await;
    let mut expected_open_home = 0;
    for i in 0..45u32 {
        let priority = ["low", "medium", "high", "urgent"][(i % 4) as usize];
        let tags = if i % 3 == 0 {
            json!(["home"])
        } else {
            json!(["work"])
        };
        let task = h
            .create(ALICE, json!({"title": format!("task {i:02}"), "priority": priority, "tags": tags,
                                  "due": {"at": format!("2030-01-{:02}T10:00:00Z", 1 + (i * 7) % 28), "tz": "UTC"}}))
            .await;
        if i % 5 == 0 {
            call("POST", format!("/tasks/{}/complete", id_of(&task)))
                .send(&h)
                .await;
        } else if i % 3 == 0 {
            expected_open_home += 1;
        }
    }
    for sort in ["created", "due", "priority", "title", "updated"] {
        for order in ["asc", "desc"] {
            // Unfiltered: 45 tasks in pages of 7.
            let (items, pages) =
                all_pages(&h, &[("sort", sort), ("order", order), ("limit", "7")]).await;
            assert_eq!(items.len(), 45, "{sort} {order}");
            assert!(pages >= 7, "{sort} {order}: {pages} pages");
            let ids: HashSet<_> = items.iter().map(id_of).collect();
            assert_eq!(ids.len(), 45, "no task repeated ({sort} {order})");

            // Filtered: open tasks tagged home, in pages of 2.
            let (items, _) = all_pages(
                &h,
                &[
                    ("sort", sort),
                    ("order", order),
                    ("limit", "2"),
                    ("status", "open"),
                    ("tag", "home"),
                ],
            )
            .await;
            let ids: HashSet<_> = items.iter().map(id_of).collect();
            assert_eq!(
                ids.len(),
                items.len(),
                "no task repeated ({sort} {order}, filtered)"
            );
            assert_eq!(
                items.len(),
                expected_open_home,
                "none skipped ({sort} {order}, filtered)"
            );

            // The concatenated pages keep the sort order.
            let unpaged = list(
                &h,
                &[
                    ("sort", sort),
                    ("order", order),
                    ("limit", "100"),
                    ("status", "open"),
                    ("tag", "home"),
                ],
            )
            .await;
            let unpaged: Vec<_> = unpaged.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(id_of)
                .collect();
            let paged: Vec<_> = items.iter().map(id_of).collect();
            assert_eq!(paged, unpaged, "{sort} {order}");
        }
    }
}

#[tokio::test]
async fn cursors_are_opaque_and_bound_to_their_query_and_user() {
    let h = Harness::new().await;
    for i in 0..3 {
        h.create(ALICE, json!({"title": format!("t{i}")})).await;
    }
    let page = list(&h, &[("limit", "1")]).await;
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    assert!(
        !cursor.contains("USER#"),
        "cursors do not expose keys in clear"
    );

    // The same query with another page size may continue.
    assert_eq!(
        titles(&list(&h, &[("limit", "5"), ("cursor", &cursor)]).await),
        ["t1", "t2"]
    );

    let tampered = {
        let mut b = cursor.clone().into_bytes();
        b[5] = if b[5] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let bad = [
        call("GET", "/tasks").query("cursor", &tampered),
        call("GET", "/tasks").query("cursor", "garbage"),
        call("GET", "/tasks")
            .query("cursor", &cursor)
            .query("sort", "title"),
        call("GET", "/tasks")
            .query("cursor", &cursor)
            .query("status", "open"),
        call("GET", "/tasks").query("cursor", &cursor).user(BOB),
    ];
    for request in bad {
        let reply = request.send(&h).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body["detail"].as_str().unwrap().contains("cursor"));
    }
}

#[tokio::test]
async fn bad_list_parameters_are_400_and_no_claims_401() {
    let h = Harness::new().await;
    for (k, v) in [
        ("limit", "0"),
        ("limit", "abc"),
        ("sort", "colour"),
        ("status", "done"),
        ("priority", "p0"),
        ("due_before", "tomorrow"),
        ("overdue", "yes"),
        ("order", "sideways"),
        ("colour", "red"),
        ("tag", "a,b,c,d,e,f,g,h,i,j,k"),
    ] {
        let reply = call("GET", "/tasks").query(k, v).send(&h).await;
        assert_eq!(reply.status, 400, "{k}={v}: {}", reply.body);
    }
    assert_eq!(call("GET", "/tasks").anonymous().send(&h).await.status, 401);
}

/// Found by an outside tester: `q=%FF%FE` decodes to bytes that are not UTF-8, which were read
/// as two U+FFFD and answered with an empty page.
#[tokio::test]
async fn a_query_value_that_is_not_utf8_is_400_naming_it() {
    let h = Harness::new().await;
    h.create(ALICE, json!({"title": "Buy milk"})).await;
    for raw in ["q=%FF%FE", "tag=home&q=%C3"] {
        let reply = call("GET", "/tasks").raw_query(raw).send(&h).await;
        assert_eq!(reply.status, 400, "{raw}: {}", reply.body);
        assert_eq!(
            reply.body["detail"], "query parameter q: not UTF-8 once percent-decoded",
            "{raw}"
        );
    }
    let found = call("GET", "/tasks")
        .raw_query("q=m%C3%ADlk+")
        .send(&h)
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
}

/// Found by an outside tester: a title sorts before its own extensions, whatever follows.
#[tokio::test]
async fn a_title_sorts_before_its_extensions() {
    let h = Harness::new().await;
    for title in ["ab c", "ab!", "ab", "ab-x", "Ab\"q"] {
        h.create(ALICE, json!({ "title": title })).await;
    }
    let titles = |order: &'static str| {
        let h = &h;
        async move {
            let page = call("GET", "/tasks")
                .query("sort", "title")
                .query("order", order)
                .send(h)
                .await;
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(titles("asc").await, ["ab", "ab c", "ab!", "Ab\"q", "ab-x"]);
    assert_eq!(titles("desc").await, ["ab-x", "Ab\"q", "ab!", "ab c", "ab"]);
}
