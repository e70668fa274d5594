//! API Gateway HTTP API (payload 2.0) events: what API Gateway hands a function for an HTTP
//! request, with the JWT authorizer's claims, built for the routes `template.yaml` declares.

use std::sync::OnceLock;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::template::Template;

/// The user a [`call`] acts as unless told otherwise.
pub const ALICE: &str = "user-alice";
/// A second user, for isolation tests.
pub const BOB: &str = "user-bob";

fn routes() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| Template::workspace().expect("template.yaml parses"))
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
        problem_fields(&self.body)
    }
}

/// The field names a validation problem body lists, in order.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A request being built.
pub struct Call {
    method: &'static str,
    path: String,
    user: Option<String>,
    /// Claims beside `sub`, `iss` and `aud`, as the authorizer passes them (strings).
    claims: serde_json::Map<String, Value>,
    headers: serde_json::Map<String, Value>,
    query: Vec<(String, String)>,
    raw_query: Option<String>,
    body: Option<String>,
}

pub fn call(method: &'static str, path: impl Into<String>) -> Call {
    Call {
        method,
        path: path.into(),
        user: Some(ALICE.to_string()),
        claims: serde_json::Map::new(),
        headers: serde_json::Map::new(),
        query: Vec::new(),
        raw_query: None,
        body: None,
    }
}

impl Call {
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    /// One more verified claim, as the JWT authorizer passes it (an array claim arrives as
    /// `[a b]`).
    pub fn claim(mut self, name: &str, value: &str) -> Self {
        self.claims.insert(name.to_string(), json!(value));
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

    /// The query string exactly as a client sent it (percent-encoded bytes that need not be
    /// UTF-8), instead of [`Self::query`]'s pairs.
    pub fn raw_query(mut self, raw: &str) -> Self {
        self.query = query_pairs(raw);
        self.raw_query = Some(raw.to_string());
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

    /// The route key and path parameters, as API Gateway matches them against the template.
    fn route(&self) -> (String, Value) {
        let (route, params) = routes().route(self.method, &self.path).unwrap_or_else(|| {
            panic!(
                "template.yaml has no route for {} {}",
                self.method, self.path
            )
        });
        let params = if params.is_empty() {
            Value::Null
        } else {
            params
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        };
        (route.key(), params)
    }

    /// The API Gateway HTTP API (payload 2.0) event for this call.
    pub fn event(&self) -> Value {
        let (route_key, path_parameters) = self.route();
        let claims = self.user.as_ref().map(|sub| {
            let mut claims = self.claims.clone();
            claims.insert("sub".into(), json!(sub));
            claims.insert("iss".into(), json!("https://issuer.example"));
            claims.insert("aud".into(), json!("todo"));
            Value::Object(claims)
        });
        event(&HttpRequest {
            method: self.method,
            path: &self.path,
            query: &self.query,
            raw_query: self.raw_query.as_deref(),
            headers: Value::Object(self.headers.clone()),
            body: self.body.as_deref().map(|b| (b.to_string(), false)),
            route_key: &route_key,
            path_parameters,
            claims,
        })
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("a valid HTTP API event")
    }
}

/// What API Gateway knows of a request when it builds the event.
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Query parameters in order, repeated names kept, decoded.
    pub query: &'a [(String, String)],
    /// The query string as the client sent it, when there is one: API Gateway passes it
    /// verbatim as `rawQueryString` (which lambda_http reads); else it is encoded from `query`.
    pub raw_query: Option<&'a str>,
    /// Header names in lower case to values (repeated headers joined with commas).
    pub headers: Value,
    /// The body, and whether it is base64 (binary).
    pub body: Option<(String, bool)>,
    /// `"METHOD /path/{param}"`.
    pub route_key: &'a str,
    pub path_parameters: Value,
    /// The verified JWT claims (each a string), for `requestContext.authorizer.jwt.claims`.
    pub claims: Option<Value>,
}

/// A raw query string's parameters in order, decoded as forms encode them; what is not UTF-8
/// decoded lossily (the function reads the raw string, and refuses it).
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// The HTTP API payload 2.0 event for a request.
pub fn event(r: &HttpRequest<'_>) -> Value {
    let raw_query = match r.raw_query {
        Some(raw) => raw.to_string(),
        None => r
            .query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    todo_lambda::http::percent_encode(k),
                    todo_lambda::http::percent_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&"),
    };
    let mut query_parameters = serde_json::Map::new();
    for (k, v) in r.query {
        let joined = match query_parameters.get(k).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v.clone(),
        };
        query_parameters.insert(k.clone(), json!(joined));
    }
    let authorizer = match &r.claims {
        Some(claims) => json!({"jwt": {"claims": claims, "scopes": null}}),
        None => json!(null),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let (body, base64) = match &r.body {
        Some((b, is64)) => (json!(b), *is64),
        None => (json!(null), false),
    };
    json!({
        "version": "2.0",
        "routeKey": r.route_key,
        "rawPath": r.path,
        "rawQueryString": raw_query,
        "headers": r.headers,
        "queryStringParameters": if query_parameters.is_empty() { json!(null) } else { json!(query_parameters) },
        "pathParameters": r.path_parameters,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": r.method, "path": r.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": r.headers.get("user-agent").cloned().unwrap_or(json!(""))},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": r.route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now,
            "authorizer": authorizer
        },
        "body": body,
        "isBase64Encoded": base64
    })
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
