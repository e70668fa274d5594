//! API Gateway events for tests of the HTTP handlers: a [`call`] to a route `template.yaml`
//! declares, as a signed-in user (by default [`ALICE`]), built into the event API Gateway
//! would hand the function; [`read`] reads the response and checks that every error is a
//! problem+json whose status matches.

use std::sync::OnceLock;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use todo_lambda::http::IntoResponse;

use crate::apigw::{HttpRequest, event, query_pairs};
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

/// A handler's answer as a test reads it: a response, or the `Result` a handler returns (its
/// problem as the problem+json response `todo_lambda::http::serve` would send).
pub fn read(answer: impl IntoResponse) -> Reply {
    let response: Response<Body> = answer.into_response();
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
