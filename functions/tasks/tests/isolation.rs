//! Identity and isolation: the `sub` claim is the owner, another user's task does not exist for
//! the caller on any route (404, the same body as a missing task), and nothing of it changes.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn another_users_task_is_404_on_every_route_and_stays_untouched() {
    let h = Harness::new().await;
    let task = h
        .create(
            ALICE,
            json!({"title": "Alice's", "due": {"at": "2030-01-01T09:00:00Z", "tz": "UTC"}}),
        )
        .await;
    let id = id_of(&task);
    let missing = "0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e";
    let routes = |id: &str| {
        vec![
            call("GET", format!("/tasks/{id}")),
            call("PATCH", format!("/tasks/{id}")).json(json!({"title": "Bob was here"})),
            call("PATCH", format!("/tasks/{id}"))
                .json(json!({"due": {"at": "2031-01-01T09:00:00Z", "tz": "UTC"}})),
            call("PATCH", format!("/tasks/{id}"))
                .header("If-Match", "\"1\"")
                .json(json!({"title": "x"})),
            call("POST", format!("/tasks/{id}/complete")),
            call("POST", format!("/tasks/{id}/complete")).header("If-Match", "\"1\""),
            call("POST", format!("/tasks/{id}/reopen")),
            call("DELETE", format!("/tasks/{id}")),
            call("DELETE", format!("/tasks/{id}")).header("If-Match", "\"1\""),
        ]
    };
    for (as_bob, as_missing) in routes(&id).into_iter().zip(routes(missing)) {
        let event = as_bob.event();
        let theirs = as_bob.user(BOB).send(&h).await;
        let nobodys = as_missing.user(BOB).send(&h).await;
        assert_eq!(theirs.status, 404, "{event}");
        assert_eq!(
            theirs.body, nobodys.body,
            "indistinguishable from missing: {event}"
        );
    }
    let bobs_list = call("GET", "/tasks").user(BOB).send(&h).await;
    assert_eq!(bobs_list.body["items"], json!([]));
    let bobs_search = call("GET", "/tasks")
        .user(BOB)
        .query("q", "alice")
        .send(&h)
        .await;
    assert_eq!(bobs_search.body["items"], json!([]));

    let after = call("GET", format!("/tasks/{id}")).send(&h).await;
    assert_eq!(after.body, task, "Alice's task is unchanged");
    assert_eq!(
        h.stream().len(),
        1,
        "nothing but Alice's create was written"
    );
}

#[tokio::test]
async fn a_blank_sub_claim_is_401() {
    let h = Harness::new().await;
    let reply = call("POST", "/tasks")
        .user("  ")
        .json(json!({"title": "x"}))
        .send(&h)
        .await;
    assert_eq!(reply.status, 401);
}

/// Issue #7 (found by the outside tester): the subject is taken exactly as signed, so a token
/// for `" alice"` or `"alice\n"` is another user, never alice.
#[tokio::test]
async fn a_subject_is_taken_verbatim_not_trimmed() {
    let h = Harness::new().await;
    let task = h.create(ALICE, json!({"title": "alice's"})).await;
    let path = format!("/tasks/{}", id_of(&task));
    let lookalikes = [" ", "\t", "\n", "\u{a0}"]
        .into_iter()
        .flat_map(|space| [format!("{space}{ALICE}"), format!("{ALICE}{space}")]);
    for lookalike in lookalikes {
        let lookalike = lookalike.as_str();
        let reply = call("GET", &path).user(lookalike).send(&h).await;
        assert_eq!(reply.status, 404, "{lookalike:?}");
        let created = call("POST", "/tasks")
            .user(lookalike)
            .json(json!({"title": "x"}))
            .send(&h)
            .await;
        assert_eq!(created.body["owner"], lookalike);
    }
    assert_eq!(call("GET", &path).user(ALICE).send(&h).await.status, 200);
}
