//! The WebSocket API's routes: `$connect`, `$disconnect`, and messages (`ping`, `$default`).
//!
//! Each is a Lambda proxy integration: the event is API Gateway's WebSocket proxy request, the
//! answer a proxy response. A `$connect` that answers other than 2xx refuses the connection;
//! for `ping` and `$default` (routes with a route response) the answer's body is sent back to
//! the client as a message.

use std::future::Future;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use todo_schema::Timestamp;

use crate::store::{AddConnection, Connection, RemoveConnection};

/// Serves one route's events with `handler` until the runtime stops the process: the
/// WebSocket counterpart of `todo_lambda::http::serve`, and the wiring every route's binary
/// shares. A route always answers (a failure is its status code), so the handler returns the
/// response itself; it may borrow what `main` owns (`serve(|event| disconnect(&store, event))`).
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(ApiGatewayWebsocketProxyRequest) -> Fut,
    Fut: Future<Output = ApiGatewayProxyResponse>,
{
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let response = handler(event.payload);
            async move { Ok::<_, lambda_runtime::Error>(response.await) }
        },
    ))
    .await
}

fn response(status: i64, body: Option<Value>) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.body = body.map(|b| Body::Text(b.to_string()));
    r
}

/// The caller the `$connect` authorizer admitted, and the connection.
fn identity(event: &ApiGatewayWebsocketProxyRequest) -> Option<(String, String)> {
    let fields = &event.request_context.authorizer.fields;
    let sub = fields
        .get("sub")
        .or_else(|| fields.get("principalId"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let id = event.request_context.connection_id.as_deref()?;
    Some((sub.to_string(), id.to_string()))
}

/// `$connect`: records the connection for its user. Without the authorizer's identity (a
/// route deployed without it) the connection is refused: fail closed.
pub async fn connect<S: AddConnection>(
    store: &S,
    event: ApiGatewayWebsocketProxyRequest,
    now: Timestamp,
) -> ApiGatewayProxyResponse {
    let Some((user, id)) = identity(&event) else {
        return response(401, None);
    };
    let connection = Connection {
        user,
        id,
        connected_at: now,
    };
    match store.add(&connection).await {
        Ok(()) => response(200, None),
        Err(e) => {
            tracing::error!(error = %e, "connection not recorded; refused");
            response(500, None)
        }
    }
}

/// `$disconnect`: forgets the connection. Its answer is ignored by API Gateway, so a failure is
/// only logged (the item expires by TTL).
pub async fn disconnect<S: RemoveConnection>(
    store: &S,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    if let Some((user, id)) = identity(&event)
        && let Err(e) = store.remove(&user, &id).await
    {
        tracing::warn!(error = %e, "connection not removed; it expires by TTL");
    }
    response(200, None)
}

/// A message: `{"action":"ping"}` answers `{"type":"pong"}`; anything else (another action,
/// not JSON, no action: the `$default` route) answers an error message naming what is
/// understood. The connection stays open either way.
pub async fn message(event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let action = event
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_string));
    match action.as_deref() {
        Some("ping") => response(200, Some(json!({"type": "pong"}))),
        _ => response(
            200,
            Some(json!({
                "type": "error",
                "message": "unknown message: send {\"action\":\"ping\"}; task events arrive on their own",
            })),
        ),
    }
}
