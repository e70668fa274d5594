//! DynamoDB down or throttling: 503 with Retry-After, never a 500 and never a panic.

mod support;

use aws_config::BehaviorVersion;
use serde_json::json;
use support::*;
use todo_tasks::http::{create, get, list};
use todo_tasks::store::DynamoTaskStore;

/// A store whose endpoint has nothing listening: every call fails to connect.
async fn unreachable_store() -> DynamoTaskStore {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    store_at(endpoint, 3).await
}

/// A store whose client talks to `endpoint`, making up to `attempts` attempts per call.
async fn store_at(endpoint: String, attempts: u32) -> DynamoTaskStore {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .test_credentials()
        .endpoint_url(endpoint)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(attempts))
        .load()
        .await;
    DynamoTaskStore::new(aws_sdk_dynamodb::Client::new(&config), TABLE)
}

#[tokio::test]
async fn an_unreachable_table_is_503_with_retry_after() {
    let store = unreachable_store().await;
    let h = Harness::new().await;
    let replies = [
        read(
            create::create_task(
                &store,
                call("POST", "/tasks").json(json!({"title": "x"})).request(),
            )
            .await,
        ),
        read(
            get::get_task(
                &store,
                call("GET", "/tasks/0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e").request(),
            )
            .await,
        ),
        read(list::list_tasks(&store, &h.cursors, call("GET", "/tasks").request()).await),
    ];
    for reply in replies {
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(
            reply.body["type"],
            "urn:serverless-todo:problem:service-unavailable"
        );
    }
}

/// A store whose endpoint answers every request the way DynamoDB answers when it throttles.
async fn throttled_store() -> DynamoTaskStore {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    store_at(endpoint, 1).await
}

#[tokio::test]
async fn throttling_is_503_with_retry_after() {
    let store = throttled_store().await;
    let reply = read(
        create::create_task(
            &store,
            call("POST", "/tasks").json(json!({"title": "x"})).request(),
        )
        .await,
    );
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let reply = read(
        get::get_task(
            &store,
            call("GET", "/tasks/0192f0c4-7b7e-7c3a-9d2e-3f4a5b6c7d8e").request(),
        )
        .await,
    );
    assert_eq!(reply.status, 503, "{}", reply.body);
}

/// #21: a function starts without calling Secrets Manager, so a Secrets Manager it cannot
/// reach costs nothing until a request needs the cursor signing key: a list that fits one page
/// answers, one that needs a cursor (to sign its next page, or to open the one it was sent) is
/// 503 with Retry-After, never a 500.
#[tokio::test]
async fn secrets_manager_unreachable_stops_only_the_requests_that_need_a_cursor() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    // SAFETY: nextest runs each test in its own process; nothing else here reads these.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var(
            "CURSOR_SIGNING_KEY_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:cursor-key-AbCdEf",
        );
    }
    // What `main` does: it starts.
    let cursors = todo_lambda::cursor::CursorCodec::from_secret().expect("starts");
    let h = Harness::new().await;
    for n in 0..3 {
        h.create(ALICE, json!({"title": format!("task {n}")})).await;
    }
    let (store, cursors) = (&h.store, &cursors);
    let list = |c: Call| async move { read(list::list_tasks(store, cursors, c.request()).await) };

    let whole = list(call("GET", "/tasks")).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert_eq!(whole.body["items"].as_array().unwrap().len(), 3);

    let paged = list(call("GET", "/tasks").query("limit", "1")).await;
    // A well-formed cursor (signed with another key: checking it needs the key).
    let other = read(
        list::list_tasks(
            &h.store,
            &h.cursors,
            call("GET", "/tasks").query("limit", "1").request(),
        )
        .await,
    );
    let cursor = other.body["next_cursor"].as_str().expect("a cursor");
    let sent = list(call("GET", "/tasks").query("cursor", cursor)).await;
    for reply in [paged, sent] {
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
}
