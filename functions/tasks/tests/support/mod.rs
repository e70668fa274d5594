//! Test harness: the real handlers over a real DynamoDB API (the embedded engine, one isolated
//! in-memory database per test), driven by API Gateway HTTP API payload 2.0 events.

#![allow(dead_code, unused_imports)]

use lambda_http::Request;
use serde_json::Value;
use todo_lambda::cursor::CursorCodec;
use todo_local::dynamodb::EmbeddedDynamo;
pub use todo_local::testing::apigw::{ALICE, BOB, Call, Reply, call, read};
use todo_schema::Timestamp;
use todo_tasks::http::{changes, create, delete, get, list, transition, update};
use todo_tasks::store::DynamoTaskStore;

pub const TABLE: &str = "TasksTable";

/// One test's world: an engine, the store over it, the cursor signer.
pub struct Harness {
    pub engine: EmbeddedDynamo,
    pub store: DynamoTaskStore,
    pub cursors: CursorCodec,
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
            "GET /tasks/changes" => {
                changes::task_changes(&self.store, &self.cursors, req, Timestamp::now()).await
            }
            "GET /tasks/{id}" => get::get_task(&self.store, req).await,
            "PATCH /tasks/{id}" => update::update_task(&self.store, req).await,
            "DELETE /tasks/{id}" => delete::delete_task(&self.store, req).await,
            "POST /tasks/{id}/complete" => transition::complete_task(&self.store, req).await,
            "POST /tasks/{id}/reopen" => transition::reopen_task(&self.store, req).await,
            other => panic!("no handler for route {other}"),
        };
        read(response)
    }

    /// `GET /tasks/changes` as read at `now` (a sync's clock, for tests of token age).
    pub async fn changes_at(&self, req: Request, now: Timestamp) -> Reply {
        read(changes::task_changes(&self.store, &self.cursors, req, now).await)
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

/// Sends a call through the harness.
pub trait SendTo {
    async fn send(self, h: &Harness) -> Reply;
}

impl SendTo for Call {
    async fn send(self, h: &Harness) -> Reply {
        h.send(self.request()).await
    }
}
