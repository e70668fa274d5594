//! Test harness: the real handlers over a real DynamoDB API (the embedded engine, one isolated
//! in-memory database per test), driven by API Gateway HTTP API payload 2.0 events.

#![allow(dead_code)]

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use todo_lambda::cursor::CursorCodec;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_tasks::http::{create, delete, get, list, transition, update};
use todo_tasks::store::DynamoTaskStore;

pub const ALICE: &str = "user-alice";
pub const BOB: &str = "user-bob";
pub const TABLE: &str = "TasksTable";

/// One test's world: an engine, the store over it, the cursor signer.
pub struct Harness {
    pub engine: EmbeddedDynamo,
    pub store: DynamoTaskStore,
    pub cursors: CursorCodec,
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The field names of a validation problem, in order.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A request being built.
pub struct Call {
    method: &'static str,
    path: String,
    user: Option<String>,
    headers: serde_json::Map<String, Value>,
    query: Vec<(String, String)>,
    body: Option<String>,
}

pub fn call(method: &'static str, path: impl Into<String>) -> Call {
    Call {
        method,
        path: path.into(),
        user: Some(ALICE.to_string()),
        headers: serde_json::Map::new(),
        query: Vec::new(),
        body: None,
    }
}

impl Call {
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    pub fn anonymous(mut self) -> Self {
        self.user = None;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_lowercase(), json!(value));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.headers
            .entry("content-type")
            .or_insert(json!("application/json"));
        self.body = Some(body.to_string());
        self
    }

    pub fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.headers
            .insert("content-type".into(), json!(content_type));
        self.body = Some(body.to_string());
        self
    }

    /// The route key and path parameters, as API Gateway would match them.
    fn route(&self) -> (String, Value) {
        let parts: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["tasks"] => (format!("{} /tasks", self.method), json!(null)),
            ["tasks", id] => (format!("{} /tasks/{{id}}", self.method), json!({"id": id})),
            ["tasks", id, action] => (
                format!("{} /tasks/{{id}}/{action}", self.method),
                json!({"id": id}),
            ),
            _ => panic!("no route for {}", self.path),
        }
    }

    /// The API Gateway HTTP API (payload 2.0) event for this call.
    pub fn event(&self) -> Value {
        let (route_key, path_parameters) = self.route();
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut query_parameters = serde_json::Map::new();
        for (k, v) in &self.query {
            let joined = match query_parameters.get(k).and_then(Value::as_str) {
                Some(prev) => format!("{prev},{v}"),
                None => v.clone(),
            };
            query_parameters.insert(k.clone(), json!(joined));
        }
        let authorizer = match &self.user {
            Some(sub) => {
                json!({"jwt": {"claims": {"sub": sub, "iss": "https://issuer.example", "aud": "todo"}, "scopes": null}})
            }
            None => json!(null),
        };
        json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": self.headers,
            "queryStringParameters": if query_parameters.is_empty() { json!(null) } else { json!(query_parameters) },
            "pathParameters": path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                "requestId": "req-1",
                "routeKey": route_key,
                "stage": "$default",
                "time": "21/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1795219200000u64,
                "authorizer": authorizer
            },
            "body": self.body,
            "isBase64Encoded": false
        })
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("a valid HTTP API event")
    }

    pub async fn send(self, h: &Harness) -> Reply {
        h.send(self.request()).await
    }
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Harness {
    pub async fn new() -> Self {
        let engine = EmbeddedDynamo::start_in_memory()
            .await
            .expect("engine starts");
        let store = DynamoTaskStore::new(engine.client().await, TABLE);
        Self {
            engine,
            store,
            cursors: CursorCodec::new(b"test-signing-key-0123456789abcdef".to_vec()),
        }
    }

    /// Routes a request to its handler, as API Gateway and the per-route functions do.
    pub async fn send(&self, req: Request) -> Reply {
        let route = {
            use lambda_http::RequestExt;
            match req.request_context_ref() {
                Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
                    ctx.route_key.clone().unwrap_or_default()
                }
                _ => String::new(),
            }
        };
        let response = match route.as_str() {
            "POST /tasks" => create::create_task(&self.store, req).await,
            "GET /tasks" => list::list_tasks(&self.store, &self.cursors, req).await,
            "GET /tasks/{id}" => get::get_task(&self.store, req).await,
            "PATCH /tasks/{id}" => update::update_task(&self.store, req).await,
            "DELETE /tasks/{id}" => delete::delete_task(&self.store, req).await,
            "POST /tasks/{id}/complete" => transition::complete_task(&self.store, req).await,
            "POST /tasks/{id}/reopen" => transition::reopen_task(&self.store, req).await,
            other => panic!("no handler for route {other}"),
        };
        read(response)
    }

    /// Creates a task as `user` and returns its JSON.
    pub async fn create(&self, user: &str, body: Value) -> Value {
        let reply = call("POST", "/tasks")
            .user(user)
            .json(body)
            .send(self)
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }

    /// Every record on the tasks table's stream so far.
    pub fn stream(&self) -> Vec<Value> {
        todo_local::streams::read_all(self.engine.database(), TABLE).expect("stream readable")
    }
}

pub fn read(response: Response<Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.body().as_ref().to_vec();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("responses are JSON")
    };
    if status >= 400 {
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "errors are problem+json: {body}"
        );
        assert_eq!(body["status"], status, "problem status matches: {body}");
    }
    Reply {
        status,
        headers,
        body,
    }
}

pub fn id_of(task: &Value) -> String {
    task["id"].as_str().expect("task id").to_string()
}

/// Sends each request and checks its status and, for validation problems, the one field named.
pub async fn expect_problems(
    h: &Harness,
    cases: impl IntoIterator<Item = (Call, u16, Option<&str>)>,
) {
    for (request, status, field) in cases {
        let event = request.event();
        let reply = request.send(h).await;
        assert_eq!(reply.status, status, "{event}\n{}", reply.body);
        if let Some(field) = field {
            assert_eq!(reply.error_fields(), [field], "{}", reply.body);
        }
    }
}
