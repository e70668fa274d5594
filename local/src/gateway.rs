//! The HTTP API on 127.0.0.1: the template's routes, the JWT authorizer emulation, payload 2.0
//! events to the real functions, and their responses back as HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::apigw::{HttpRequest, event, query_pairs};
use crate::auth::LocalAuthorizer;
use crate::connections::Limits;
use crate::runtime::{FunctionHost, Invocation, Outcome};
use crate::template::HttpRoute;

/// Told about every invocation: function, trigger, what happened.
pub type InvocationObserver = Arc<dyn Fn(&str, &str, &Invocation) + Send + Sync>;

/// What the gateway routes to.
pub struct Gateway {
    pub routes: Vec<HttpRoute>,
    pub hosts: HashMap<String, Arc<FunctionHost>>,
    pub auth: Arc<LocalAuthorizer>,
    /// Called after each invocation (the cloud prints a line).
    pub on_invocation: InvocationObserver,
    /// The console page, `/_console` (a path no route has).
    pub console: Option<Arc<crate::console_page::ConsolePage>>,
}

/// The largest request body the gateway passes on: Lambda's 6 MB synchronous invocation
/// payload quota, below the HTTP API's own 10 MB (both from AWS's quota pages). A larger body
/// never reaches a function; the gateway answers it in its own `{"message": ...}` shape.
pub const BODY_LIMIT_BYTES: usize = 6 * 1024 * 1024;

/// Serves the gateway on `listener` within `limits` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, gateway: Arc<Gateway>, limits: Limits) {
    let app = Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(gateway);
    crate::connections::serve(listener, app, limits).await;
}

fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"message": text}).to_string(),
    )
        .into_response()
}

async fn handle(
    State(g): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT_BYTES).await else {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let path = uri.path().to_string();
    if let Some(answer) = g
        .console
        .as_ref()
        .and_then(|page| page.answer(method.as_str(), &path, uri.query()))
    {
        return answer;
    }
    let Some((route, params)) = g
        .routes
        .iter()
        .find_map(|r| r.matches(method.as_str(), &path).map(|p| (r, p)))
    else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = match g
        .auth
        .verify(headers.get("authorization").and_then(|v| v.to_str().ok()))
    {
        Ok(claims) => claims,
        Err(_) => return message(StatusCode::UNAUTHORIZED, "Unauthorized"),
    };
    let Some(host) = g.hosts.get(&route.function) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let query = uri.query().map(query_pairs).unwrap_or_default();
    let mut header_map = serde_json::Map::new();
    for (name, value) in &headers {
        let value = value.to_str().unwrap_or_default().to_string();
        let joined = match header_map.get(name.as_str()).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{value}"),
            None => value,
        };
        header_map.insert(name.as_str().to_string(), json!(joined));
    }
    let body = (!body.is_empty()).then(|| match std::str::from_utf8(&body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (B64.encode(&body), true),
    });
    let params: serde_json::Map<String, Value> =
        params.into_iter().map(|(k, v)| (k, json!(v))).collect();
    let request = HttpRequest {
        method: method.as_str(),
        path: &path,
        query: &query,
        raw_query: uri.query(),
        headers: Value::Object(header_map),
        body,
        route_key: &route.key(),
        path_parameters: if params.is_empty() {
            Value::Null
        } else {
            Value::Object(params)
        },
        claims: Some(claims),
    };
    let payload = event(&request).to_string().into_bytes();
    let invocation = host.invoke_or_throttle(payload).await;
    (g.on_invocation)(host.name(), &route.key(), &invocation);
    match invocation.outcome {
        Outcome::Ok(bytes) => to_http(&bytes),
        Outcome::TimedOut => message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        // A throttled Lambda integration is an internal server error at the HTTP API (AWS
        // knowledge center, "API Gateway internal server error": "If the backend service is
        // throttled ... API Gateway can return an Internal Server Error").
        Outcome::FunctionError(_) | Outcome::Crashed(_) | Outcome::Throttled => {
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// A payload 2.0 response (`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`) as HTTP.
fn to_http(bytes: &[u8]) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let body = match (
        v["body"].as_str(),
        v["isBase64Encoded"].as_bool().unwrap_or(false),
    ) {
        (Some(b), true) => B64.decode(b).unwrap_or_default(),
        (Some(b), false) => b.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    // lambda_http fills both maps with the same headers; take the multi-value one when present.
    let multi = v["multiValueHeaders"]
        .as_object()
        .is_some_and(|m| !m.is_empty());
    let source = if multi {
        &v["multiValueHeaders"]
    } else {
        &v["headers"]
    };
    {
        if let Some(map) = source.as_object() {
            for (k, values) in map {
                let values: Vec<&str> = match values {
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                for value in values {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(k.as_bytes()),
                        HeaderValue::from_str(value),
                    ) {
                        headers.append(name, value);
                    }
                }
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::template::Template;

    /// The gateway on 127.0.0.1 with the template's routes and no function behind them (a
    /// request the authorizer admits then answers 500); its URL and issuer.
    async fn gateway(
        name: &str,
        limits: Limits,
    ) -> (String, Arc<LocalAuthorizer>, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("todo-local-gateway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let auth = Arc::new(LocalAuthorizer::load_or_create(&dir, "http://127.0.0.1:1").unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gateway = Arc::new(Gateway {
            routes: Template::workspace().unwrap().http_routes(),
            hosts: HashMap::new(),
            auth: Arc::clone(&auth),
            on_invocation: Arc::new(|_, _, _| {}),
            console: None,
        });
        tokio::spawn(serve(listener, gateway, limits));
        (url, auth, dir)
    }

    #[tokio::test]
    async fn a_subject_that_is_not_a_string_is_unauthorized() {
        let (url, auth, dir) = gateway("sub", Limits::new(16)).await;
        let client = reqwest::Client::new();
        let now = todo_schema::Timestamp::now().epoch_seconds();
        let get = |sub: Value| {
            let token = auth.sign(&json!({
                "sub": sub, "iss": auth.issuer(), "aud": crate::auth::AUDIENCE, "exp": now + 60,
            }));
            client.get(format!("{url}/tasks")).bearer_auth(token).send()
        };
        for sub in [json!(12345), json!(true)] {
            let answer = get(sub.clone()).await.unwrap();
            assert_eq!(answer.status(), 401, "sub {sub}");
            assert_eq!(
                answer.json::<Value>().await.unwrap(),
                json!({"message": "Unauthorized"})
            );
        }
        // The same subject as a string passes the authorizer (and finds no function here).
        assert_eq!(get(json!("12345")).await.unwrap().status(), 500);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Found by an outside tester: 19,680 idle connections from one client exhausted the
    /// process's file descriptors. Beyond the cap a request is answered 503 at once; an idle
    /// connection is closed after the idle timeout (shortened here), before or between
    /// requests, and its place serves again.
    #[tokio::test]
    async fn idle_connections_are_capped_and_closed_after_the_idle_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let idle_timeout = Duration::from_millis(1500);
        let limits = Limits {
            max_connections: 4,
            idle_timeout,
        };
        let (url, _auth, dir) = gateway("idle", limits).await;
        let addr = url.trim_start_matches("http://").to_string();
        let opened = std::time::Instant::now();
        let mut idle = Vec::new();
        for _ in 0..3 {
            idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
        }
        // The fourth serves one request, then waits on the same connection.
        let mut between = tokio::net::TcpStream::connect(&addr).await.unwrap();
        between
            .write_all(b"GET /tasks HTTP/1.1\r\nhost: local\r\n\r\n")
            .await
            .unwrap();
        let mut answer = vec![0; 4096];
        let n = between.read(&mut answer).await.unwrap();
        assert!(
            answer[..n].starts_with(b"HTTP/1.1 401"),
            "{}",
            String::from_utf8_lossy(&answer[..n])
        );

        let client = reqwest::Client::new();
        let request = || {
            tokio::time::timeout(
                Duration::from_secs(5),
                client.get(format!("{url}/tasks")).send(),
            )
        };
        let refused = request().await.expect("refused at once").unwrap();
        assert_eq!(refused.status(), 503);
        assert_eq!(
            refused.json::<Value>().await.unwrap(),
            json!({"message": "Service Unavailable"})
        );
        assert!(
            opened.elapsed() < idle_timeout,
            "the refusal came before any idle connection was closed"
        );

        for mut stream in idle.into_iter().chain([between]) {
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
                .await
                .expect("closed by the server");
            assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        }
        assert!(opened.elapsed() >= idle_timeout, "{:?}", opened.elapsed());
        let served = request().await.expect("served").unwrap();
        assert_eq!(served.status(), 401, "a request is served again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// From the outside test: a client that sends a request's head and stalls in its body
    /// held its place for ever (1,100 of them took every place). The body must arrive within
    /// the idle timeout, or the request is answered 408 and the connection closed.
    #[tokio::test]
    async fn a_body_that_stalls_is_answered_408_and_its_connection_closed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let idle_timeout = Duration::from_millis(1000);
        let limits = Limits {
            max_connections: 2,
            idle_timeout,
        };
        let (url, _auth, dir) = gateway("stall", limits).await;
        let addr = url.trim_start_matches("http://").to_string();
        let mut stalled = Vec::new();
        for _ in 0..2 {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            s.write_all(b"POST /tasks HTTP/1.1\r\nhost: local\r\ncontent-length: 100\r\ncontent-type: application/json\r\n\r\n{")
                .await
                .unwrap();
            stalled.push(s);
        }
        let opened = std::time::Instant::now();
        for mut s in stalled {
            let mut answer = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
                .await
                .expect("answered and closed")
                .unwrap();
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        }
        assert!(opened.elapsed() < Duration::from_secs(5));
        let served = reqwest::get(format!("{url}/tasks")).await.unwrap();
        assert_eq!(served.status(), 401, "the places are free again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
