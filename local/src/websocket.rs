//! The WebSocket API on 127.0.0.1, as `template.yaml` declares it (`AWS::ApiGatewayV2::Api`
//! with `ProtocolType: WEBSOCKET`, its routes, integrations and authorizer), and its
//! Management API (`POST|GET|DELETE /{stage}/@connections/{id}`), the endpoint the realtime
//! consumer reaches through `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`.
//!
//! What API Gateway does, it does (developer guide, "WebSocket APIs"):
//! - `$connect`: the REQUEST authorizer is invoked first with its event (headers, query string,
//!   `methodArn` ending in `$connect`); the error `Unauthorized` refuses with 401, a `Deny`
//!   policy with 403, any other failure with 500. Then the `$connect` integration gets the
//!   CONNECT event with the authorizer's `principalId` and context in
//!   `requestContext.authorizer`; the upgrade completes only if it answers 2xx. Until then the
//!   connection does not exist: a post to it is a 410.
//! - A message selects its route by `$request.body.action`: the route of that key, else
//!   `$default`; with neither, the client gets `{"message": "Forbidden", ...}`. A route with a
//!   route response (two-way) sends the integration's body back.
//! - Closing (either side) invokes `$disconnect` with the DISCONNECT event, authorizer context
//!   included. A connection without a frame from its client for 10 minutes (the API's idle
//!   connection timeout) is closed by the server, and so is forgotten.
//! - `PostToConnection` on a connection that is not open is `410 GoneException`; over 128 KB is
//!   `413 PayloadTooLargeException`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::connections::Limits;
use crate::gateway::InvocationObserver;
use crate::iam::policy::arn_matches;
use crate::iam::{Gate, Request};
use crate::runtime::{FunctionHost, Outcome};
use crate::template::{ACCOUNT_ID as ACCOUNT, LOCAL_API_ID as API_ID, REGION, Template};
/// API Gateway's limit on one WebSocket message (and so on a `PostToConnection`).
pub const MESSAGE_LIMIT_BYTES: usize = 128 * 1024;
/// How long a closing connection's last frames may take to leave.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A route of the WebSocket API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsRoute {
    /// The function behind the route's integration.
    pub function: String,
    /// The route has a route response: the integration's answer goes back to the client.
    pub two_way: bool,
}

/// The WebSocket API the template declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketApi {
    pub stage: String,
    /// The `$connect` authorizer's function.
    pub authorizer: Option<String>,
    /// By route key (`$connect`, `$disconnect`, `$default`, `ping`...).
    pub routes: HashMap<String, WsRoute>,
}

/// `X` in a `!Sub` string's `${X.Arn}` or `${X}` after `prefix`.
fn referenced(value: &Value, prefix: &str) -> Option<String> {
    let text = value
        .get("!Sub")
        .and_then(Value::as_str)
        .or_else(|| value.as_str())?;
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let end = rest.find('}')?;
    Some(rest[..end].trim_end_matches(".Arn").to_string())
}

fn reference(value: &Value) -> Option<String> {
    value
        .get("!Ref")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl WebSocketApi {
    /// The template's WebSocket API, if it declares one.
    pub fn from_template(template: &Template) -> Option<Self> {
        let resources = template.root.get("Resources")?.as_object()?;
        let of_type = |t: &'static str| {
            resources
                .iter()
                .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(t))
        };
        let (api_id, _) = of_type("AWS::ApiGatewayV2::Api").find(|(_, r)| {
            r.pointer("/Properties/ProtocolType")
                .and_then(Value::as_str)
                == Some("WEBSOCKET")
        })?;
        let of_api = |t: &'static str| {
            of_type(t)
                .filter(|(_, r)| {
                    r.pointer("/Properties/ApiId")
                        .and_then(reference)
                        .as_deref()
                        == Some(api_id.as_str())
                })
                .map(|(id, r)| (id.clone(), r.get("Properties").cloned().unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let integrations: HashMap<String, String> = of_api("AWS::ApiGatewayV2::Integration")
            .into_iter()
            .filter_map(|(id, p)| Some((id, referenced(&p["IntegrationUri"], "functions/${")?)))
            .collect();
        let two_way: Vec<String> = of_api("AWS::ApiGatewayV2::RouteResponse")
            .into_iter()
            .filter_map(|(_, p)| reference(&p["RouteId"]))
            .collect();
        let mut routes = HashMap::new();
        let mut authorizer_id = None;
        for (id, p) in of_api("AWS::ApiGatewayV2::Route") {
            let Some(key) = p["RouteKey"].as_str() else {
                continue;
            };
            let Some(function) = referenced(&p["Target"], "integrations/${")
                .and_then(|i| integrations.get(&i).cloned())
            else {
                continue;
            };
            if key == "$connect" && p["AuthorizationType"].as_str() == Some("CUSTOM") {
                authorizer_id = reference(&p["AuthorizerId"]);
            }
            routes.insert(
                key.to_string(),
                WsRoute {
                    function,
                    two_way: two_way.contains(&id),
                },
            );
        }
        let authorizer = authorizer_id.and_then(|a| {
            of_api("AWS::ApiGatewayV2::Authorizer")
                .into_iter()
                .find(|(id, _)| *id == a)
                .and_then(|(_, p)| referenced(&p["AuthorizerUri"], "functions/${"))
        });
        let stage = of_api("AWS::ApiGatewayV2::Stage")
            .first()
            .and_then(|(_, p)| p["StageName"].as_str().map(str::to_string))
            .unwrap_or_else(|| "$default".into());
        Some(Self {
            stage,
            authorizer,
            routes,
        })
    }
}

/// An open connection.
struct Open {
    send: mpsc::UnboundedSender<Message>,
    connected_at: i64,
    user_agent: String,
}

/// The server: the API, the function hosts, the open connections.
pub struct WebSocketServer {
    pub api: WebSocketApi,
    pub hosts: HashMap<String, Arc<FunctionHost>>,
    pub on_invocation: InvocationObserver,
    /// `ws://host:port` (the stage is appended to it).
    pub origin: String,
    /// A WebSocket with no frame from its client for this long is closed.
    pub idle_timeout: Duration,
    open: Mutex<HashMap<String, Open>>,
    /// Who may call the Management API (`execute-api:ManageConnections`).
    gate: Gate,
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn request_time() -> String {
    chrono::Utc::now()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

fn new_id() -> String {
    use base64::Engine;
    let bytes = uuid::Uuid::new_v4().into_bytes();
    format!(
        "{}=",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes[..10])
    )
}

/// Name-value pairs as API Gateway's single-value and multi-value maps (`null` when empty,
/// as for a query string without parameters).
fn value_maps(pairs: impl IntoIterator<Item = (String, String)>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), json!(v));
        if let Some(values) = multi.entry(k).or_insert_with(|| json!([])).as_array_mut() {
            values.push(json!(v));
        }
    }
    let none = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    (none(single), none(multi))
}

fn header_maps(headers: &HeaderMap) -> (Value, Value) {
    value_maps(headers.iter().map(|(name, value)| {
        (
            name.to_string(),
            value.to_str().unwrap_or_default().to_string(),
        )
    }))
}

/// How a connection is known to its routes after `$connect`.
#[derive(Clone)]
struct Session {
    id: String,
    connected_at: i64,
    /// `requestContext.authorizer`: the authorizer's `principalId` and context.
    authorizer: Value,
    headers: HeaderMap,
}

impl WebSocketServer {
    pub fn new(
        api: WebSocketApi,
        hosts: HashMap<String, Arc<FunctionHost>>,
        on_invocation: InvocationObserver,
        origin: String,
    ) -> Self {
        Self {
            api,
            hosts,
            on_invocation,
            origin,
            idle_timeout: crate::connections::WEBSOCKET_IDLE_TIMEOUT,
            open: Mutex::new(HashMap::new()),
            gate: Gate::default(),
        }
    }

    /// Who may manage connections: from now on each call is checked against the caller's role.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// IAM's check of a Management API call: `execute-api:ManageConnections` on
    /// `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/@connections/<id>`
    /// (API Gateway developer guide, "Use @connections commands in your backend service").
    /// The refusal, if the caller may not.
    fn refused(&self, headers: &HeaderMap, method: &str, id: &str) -> Option<Response> {
        let arn = format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{}/{method}/@connections/{id}",
            self.api.stage
        );
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        self.gate
            .check(
                authorization,
                &[Request::new("execute-api:ManageConnections", arn)],
            )
            .err()
            .map(|refusal| error(StatusCode::FORBIDDEN, refusal.kind(), &refusal.to_string()))
    }

    /// Forgets a connection that closed. A crowd that left gives its memory back: the map is
    /// shrunk once it is mostly empty.
    fn forget(&self, id: &str) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(id);
        if open.capacity() > 64 && open.len() < open.capacity() / 4 {
            open.shrink_to_fit();
        }
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("{}/{}", self.origin, self.api.stage)
    }

    /// The Management API endpoint (`AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`).
    pub fn management_endpoint(&self) -> String {
        format!(
            "{}/{}",
            self.origin.replacen("ws://", "http://", 1),
            self.api.stage
        )
    }

    fn context(&self, route: &str, event_type: &str, s: &Session) -> Value {
        let mut ctx = json!({
            "routeKey": route, "eventType": event_type, "messageDirection": "IN",
            "extendedRequestId": new_id(), "requestTime": request_time(),
            "stage": self.api.stage, "connectedAt": s.connected_at,
            "requestTimeEpoch": now_millis(), "identity": {"sourceIp": "127.0.0.1",
            "userAgent": s.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default()},
            "requestId": new_id(), "domainName": "127.0.0.1", "connectionId": s.id,
            "apiId": API_ID,
        });
        if !s.authorizer.is_null() {
            ctx["authorizer"] = s.authorizer.clone();
        }
        ctx
    }

    async fn invoke(&self, function: &str, trigger: &str, event: &Value) -> Outcome {
        let Some(host) = self.hosts.get(function) else {
            return Outcome::Crashed(format!("no function {function}"));
        };
        let invocation = host
            .invoke_or_throttle(event.to_string().into_bytes())
            .await;
        (self.on_invocation)(host.name(), trigger, &invocation);
        invocation.outcome
    }

    /// The `$connect` authorizer: the `requestContext.authorizer` to give the routes, or the
    /// refusal.
    async fn authorize(
        &self,
        s: &Session,
        query: &[(String, String)],
    ) -> Result<Value, StatusCode> {
        let Some(function) = &self.api.authorizer else {
            return Ok(Value::Null);
        };
        let method_arn = format!(
            "arn:aws:execute-api:us-east-1:{ACCOUNT}:{API_ID}/{}/$connect",
            self.api.stage
        );
        let (headers, multi_headers) = header_maps(&s.headers);
        let (qs, multi_qs) = value_maps(query.iter().cloned());
        let mut context = self.context("$connect", "CONNECT", s);
        context.as_object_mut().map(|c| c.remove("authorizer"));
        let event = json!({
            "type": "REQUEST", "methodArn": method_arn, "headers": headers,
            "multiValueHeaders": multi_headers, "queryStringParameters": qs,
            "multiValueQueryStringParameters": multi_qs, "stageVariables": {},
            "requestContext": context,
        });
        match self.invoke(function, "$connect authorizer", &event).await {
            Outcome::Ok(bytes) => {
                let answer: Value = serde_json::from_slice(&bytes)
                    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
                let allowed = answer
                    .pointer("/policyDocument/Statement")
                    .and_then(Value::as_array)
                    .is_some_and(|statements| {
                        statements.iter().any(|st| {
                            st["Effect"] == "Allow"
                                && resources(&st["Resource"])
                                    .iter()
                                    .any(|r| arn_matches(r, &method_arn))
                        }) && !statements.iter().any(|st| {
                            st["Effect"] == "Deny"
                                && resources(&st["Resource"])
                                    .iter()
                                    .any(|r| arn_matches(r, &method_arn))
                        })
                    });
                if !allowed {
                    return Err(StatusCode::FORBIDDEN);
                }
                let mut authorizer = answer["context"].as_object().cloned().unwrap_or_default();
                authorizer.insert("principalId".into(), answer["principalId"].clone());
                Ok(Value::Object(authorizer))
            }
            Outcome::FunctionError(payload) => {
                let message = serde_json::from_str::<Value>(&payload)
                    .ok()
                    .and_then(|v| v["errorMessage"].as_str().map(str::to_string));
                if message.as_deref() == Some("Unauthorized") {
                    Err(StatusCode::UNAUTHORIZED)
                } else {
                    Err(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
            _ => Err(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// Runs a route's integration with a proxy event; its proxy response, if it answered one.
    async fn route(
        &self,
        key: &str,
        event_type: &str,
        s: &Session,
        body: Option<&str>,
    ) -> Option<Value> {
        let route = self.api.routes.get(key)?;
        let (headers, multi_headers) = header_maps(&s.headers);
        let mut event = json!({
            "requestContext": self.context(key, event_type, s),
            "isBase64Encoded": false,
        });
        if event_type == "CONNECT" {
            event["headers"] = headers;
            event["multiValueHeaders"] = multi_headers;
        }
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        match self.invoke(&route.function, key, &event).await {
            Outcome::Ok(bytes) => serde_json::from_slice(&bytes).ok().or(Some(Value::Null)),
            _ => None,
        }
    }

    /// A message from the client, through its route; what goes back, if anything.
    async fn message(&self, s: &Session, text: &str) -> Option<String> {
        let action = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_string));
        let key = match action {
            Some(a) if self.api.routes.contains_key(&a) && !a.starts_with('$') => a,
            _ if self.api.routes.contains_key("$default") => "$default".to_string(),
            _ => {
                return Some(
                    json!({"message": "Forbidden", "connectionId": s.id, "requestId": new_id()})
                        .to_string(),
                );
            }
        };
        let two_way = self.api.routes.get(&key).is_some_and(|r| r.two_way);
        let answer = self.route(&key, "MESSAGE", s, Some(text)).await;
        if !two_way {
            return None;
        }
        match answer {
            Some(a) => a["body"].as_str().map(str::to_string),
            None => Some(
                json!({"message": "Internal server error", "connectionId": s.id, "requestId": new_id()})
                    .to_string(),
            ),
        }
    }

    /// `PostToConnection`.
    fn post(&self, id: &str, data: &[u8]) -> Response {
        if data.len() > MESSAGE_LIMIT_BYTES {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLargeException",
                "Message too long",
            );
        }
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get(id) {
            Some(c) => {
                let text = String::from_utf8_lossy(data).into_owned();
                if c.send.send(Message::Text(text.into())).is_ok() {
                    StatusCode::OK.into_response()
                } else {
                    error(StatusCode::GONE, "GoneException", "")
                }
            }
            None => error(StatusCode::GONE, "GoneException", ""),
        }
    }
}

fn resources(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// An error of the Management API, as the SDK reads it (`x-amzn-errortype`).
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/json"),
        ],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

/// Serves the WebSocket API and its Management API on `listener` within `limits` (an open
/// WebSocket holds its place; its idle timeout is the server's) until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<WebSocketServer>,
    limits: Limits,
) {
    let stage = server.api.stage.clone();
    let app = Router::new()
        .route(&format!("/{stage}"), get(upgrade))
        .route(&format!("/{stage}/"), get(upgrade))
        .route(
            &format!("/{stage}/@connections/{{id}}"),
            post(post_to_connection)
                .get(get_connection)
                .delete(delete_connection),
        )
        .with_state(server);
    crate::connections::serve(listener, app, limits).await;
}

async fn post_to_connection(
    State(server): State<Arc<WebSocketServer>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = server.refused(&headers, "POST", &id) {
        return refused;
    }
    server.post(&id, &body)
}

async fn get_connection(
    State(server): State<Arc<WebSocketServer>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = server.refused(&headers, "GET", &id) {
        return refused;
    }
    let open = server.open.lock().unwrap_or_else(|p| p.into_inner());
    match open.get(&id) {
        Some(c) => axum::Json(json!({
            "connectedAt": chrono::DateTime::from_timestamp_millis(c.connected_at).map(|t| t.to_rfc3339()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": c.user_agent},
            "lastActiveAt": chrono::Utc::now().to_rfc3339(),
        }))
        .into_response(),
        None => error(StatusCode::GONE, "GoneException", ""),
    }
}

async fn delete_connection(
    State(server): State<Arc<WebSocketServer>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = server.refused(&headers, "DELETE", &id) {
        return refused;
    }
    let open = server.open.lock().unwrap_or_else(|p| p.into_inner());
    match open.get(&id) {
        Some(c) => {
            let _ = c.send.send(Message::Close(None));
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::GONE, "GoneException", ""),
    }
}

async fn upgrade(
    State(server): State<Arc<WebSocketServer>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let mut session = Session {
        id: new_id(),
        connected_at: now_millis(),
        authorizer: Value::Null,
        headers,
    };
    session.authorizer = match server.authorize(&session, &query).await {
        Ok(a) => a,
        Err(status) => return status.into_response(),
    };
    if server.api.routes.contains_key("$connect") {
        let status = server
            .route("$connect", "CONNECT", &session, None)
            .await
            .and_then(|r| r["statusCode"].as_u64())
            .unwrap_or(500);
        if !(200..300).contains(&status) {
            return StatusCode::from_u16(status as u16)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response();
        }
    }
    ws.on_upgrade(move |socket| connection(server, session, socket))
}

async fn connection(server: Arc<WebSocketServer>, session: Session, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (send, mut outgoing) = mpsc::unbounded_channel::<Message>();
    server
        .open
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            session.id.clone(),
            Open {
                send: send.clone(),
                connected_at: session.connected_at,
                user_agent: session
                    .headers
                    .get("user-agent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
            },
        );
    let mut writer = tokio::spawn(async move {
        while let Some(m) = outgoing.recv().await {
            let close = matches!(m, Message::Close(_));
            if sink.send(m).await.is_err() || close {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut close = None;
    loop {
        let frame = match tokio::time::timeout(server.idle_timeout, stream.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(_) => break,
            Err(_) => {
                // 1001, going away: the code of an endpoint that leaves (RFC 6455 §7.4.1).
                close = Some(CloseFrame {
                    code: 1001,
                    reason: "Idle timeout".into(),
                });
                break;
            }
        };
        let text = match frame {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        if let Some(reply) = server.message(&session, &text).await {
            let _ = send.send(Message::Text(reply.into()));
        }
    }
    server.forget(&session.id);
    let _ = send.send(Message::Close(close));
    // A client that reads nothing must not keep the writer (and its socket) forever.
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    let _ = server
        .route("$disconnect", "DISCONNECT", &session, None)
        .await;
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::{self, Message as Frame};

    use super::*;

    fn bare_api() -> WebSocketApi {
        WebSocketApi {
            stage: "live".into(),
            authorizer: None,
            routes: HashMap::new(),
        }
    }

    /// A server with no authorizer and no routes (nothing to invoke) on 127.0.0.1.
    async fn server(max_connections: usize, idle_timeout: Duration) -> Arc<WebSocketServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("ws://{}", listener.local_addr().unwrap());
        let mut server =
            WebSocketServer::new(bare_api(), HashMap::new(), Arc::new(|_, _, _| {}), origin);
        server.idle_timeout = idle_timeout;
        let server = Arc::new(server);
        tokio::spawn(serve(
            listener,
            Arc::clone(&server),
            Limits::new(max_connections),
        ));
        server
    }

    fn open(server: &WebSocketServer) -> usize {
        server.open.lock().unwrap().len()
    }

    /// Found by an outside tester: idle connections were kept with no cap or timeout. A
    /// WebSocket without a frame from its client for the idle timeout (shortened here) is
    /// closed (1001) and forgotten, one that talks stays; beyond the cap a connection is
    /// refused at once with a 503, and a place freed serves again.
    #[tokio::test]
    async fn idle_websockets_are_closed_capped_and_forgotten() {
        let idle = Duration::from_millis(1500);
        let server = server(2, idle).await;
        let url = server.url();
        let (mut quiet, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let (mut talker, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let opened = Instant::now();
        let third = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .expect("refused at once");
        match third {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
            other => panic!("{other:?}"),
        }

        let talking = async {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                talker.send(Frame::Text("{}".into())).await.unwrap();
                assert!(matches!(talker.next().await, Some(Ok(Frame::Text(_)))));
            }
        };
        let closed = async {
            loop {
                match quiet.next().await {
                    Some(Ok(Frame::Close(frame))) => return frame,
                    None | Some(Err(_)) => return None,
                    Some(Ok(_)) => {}
                }
            }
        };
        let ((), closed) = tokio::join!(talking, closed);
        let frame = closed.expect("a close frame");
        assert_eq!(frame.code, CloseCode::Away);
        assert!(opened.elapsed() >= idle, "{:?}", opened.elapsed());
        assert_eq!(
            open(&server),
            1,
            "the quiet one is forgotten, the talker stays"
        );

        let (mut again, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("its place serves again");
        talker.close(None).await.unwrap();
        again.close(None).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while open(&server) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(open(&server), 0, "every client that left is forgotten");
    }

    #[test]
    fn a_crowd_that_left_gives_its_memory_back() {
        let server = WebSocketServer::new(
            bare_api(),
            HashMap::new(),
            Arc::new(|_, _, _| {}),
            "ws://127.0.0.1:1".into(),
        );
        let (send, _outgoing) = mpsc::unbounded_channel();
        for i in 0..20_000 {
            server.open.lock().unwrap().insert(
                i.to_string(),
                Open {
                    send: send.clone(),
                    connected_at: 0,
                    user_agent: String::new(),
                },
            );
        }
        for i in 0..20_000 {
            server.forget(&i.to_string());
        }
        let open = server.open.lock().unwrap();
        assert!(
            open.is_empty() && open.capacity() <= 128,
            "{}",
            open.capacity()
        );
    }
}
