//! The HTTP API through the local cloud, as a user would call it with curl.

use serde_json::{Value, json};
use todo_e2e::{DataDir, start};

#[tokio::test]
async fn create_read_and_list_over_http_with_a_local_token() {
    let data = DataDir::new("http");
    let cloud = start(&data).await;
    let http = reqwest::Client::new();
    let token = cloud.auth.token("alice", 1);

    let created = http
        .post(format!("{}/tasks", cloud.api_url))
        .bearer_auth(&token)
        .json(&json!({"title": "Buy milk", "tags": ["home"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(created.headers()["etag"], "\"1\"");
    let task: Value = created.json().await.unwrap();
    assert_eq!(task["owner"], "alice", "the sub claim of the local token");

    let read = http
        .get(format!("{}{location}", cloud.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap(), task);

    let list: Value = http
        .get(format!("{}/tasks?tag=home&sort=title", cloud.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let problem = http
        .post(format!("{}/tasks", cloud.api_url))
        .bearer_auth(&token)
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem.status(), 422);
    assert_eq!(
        problem.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401_and_unknown_routes_404() {
    let data = DataDir::new("auth");
    let cloud = start(&data).await;
    let http = reqwest::Client::new();
    let none = http
        .get(format!("{}/tasks", cloud.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let forged = http
        .get(format!("{}/tasks", cloud.api_url))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let token = cloud.auth.token("alice", 1);
    let nowhere = http
        .get(format!("{}/nowhere", cloud.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
}

#[tokio::test]
async fn tasks_and_tokens_survive_a_restart() {
    let data = DataDir::new("restart");
    let http = reqwest::Client::new();
    let (location, token) = {
        let cloud = start(&data).await;
        let token = cloud.auth.token("alice", 1);
        let created = http
            .post(format!("{}/tasks", cloud.api_url))
            .bearer_auth(&token)
            .json(&json!({"title": "Persist me"}))
            .send()
            .await
            .unwrap();
        (
            created.headers()["location"].to_str().unwrap().to_string(),
            token,
        )
    };
    let cloud = start(&data).await;
    let read = http
        .get(format!("{}{location}", cloud.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.status(),
        200,
        "the task and the signing key persist in the data folder"
    );
    assert_eq!(read.json::<Value>().await.unwrap()["title"], "Persist me");
}
