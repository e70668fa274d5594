//! The HTTP API through the local cloud, as a user would call it with curl.

use serde_json::json;
use todo_e2e::{Api, DataDir, start};

#[tokio::test]
async fn create_read_and_list_over_http_with_a_local_token() {
    let data = DataDir::new("http");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");

    let created = alice
        .post("/tasks", json!({"title": "Buy milk", "tags": ["home"]}))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.headers["etag"], "\"1\"");
    assert_eq!(
        created.body["owner"], "alice",
        "the sub claim of the local token"
    );
    let location = created.headers["location"].to_str().unwrap().to_string();

    let read = alice.get(&location).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, created.body);
    assert_eq!(
        alice.get("/tasks?tag=home&sort=title").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let problem = alice.post("/tasks", json!({"title": ""})).await;
    assert_eq!(problem.status, 422);
    assert_eq!(problem.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401_and_unknown_routes_404() {
    let data = DataDir::new("auth");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    assert_eq!(
        alice.call("GET", "/tasks", None, Some("")).await.status,
        401
    );
    assert_eq!(
        alice
            .call("GET", "/tasks", None, Some("a.b.c"))
            .await
            .status,
        401
    );
    assert_eq!(alice.get("/nowhere").await.status, 404);
}

#[tokio::test]
async fn tasks_and_tokens_survive_a_restart() {
    let data = DataDir::new("restart");
    let (alice, location) = {
        let cloud = start(&data).await;
        let alice = Api::new(&cloud, "alice");
        let created = alice.post("/tasks", json!({"title": "Persist me"})).await;
        (
            alice,
            created.headers["location"].to_str().unwrap().to_string(),
        )
    };
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice").with_token_of(&alice);
    let read = alice.get(&location).await;
    assert_eq!(
        read.status, 200,
        "the task and the signing key persist in the data folder"
    );
    assert_eq!(read.body["title"], "Persist me");
}

/// Found by an outside tester: `q=%FF%FE` answered 200 with an empty list. The gateway passes
/// the query string as sent (`rawQueryString`), and the function names the parameter.
#[tokio::test]
async fn a_query_value_that_is_not_utf8_is_a_400_through_the_gateway() {
    let data = DataDir::new("query-utf8");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    alice.create(json!({"title": "Água plants"})).await;
    let refused = alice.get("/tasks?q=%FF%FE").await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    assert_eq!(
        refused.body["detail"],
        "query parameter q: not UTF-8 once percent-decoded"
    );
    let found = alice.get("/tasks?q=%C3%81gua").await;
    assert_eq!(found.body["items"].as_array().map(Vec::len), Some(1));
}
