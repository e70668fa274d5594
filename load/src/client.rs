//! One user's HTTP calls to the API, timed per route.

use std::time::{Duration, Instant};

use serde_json::Value;

/// A user of the API under load.
#[derive(Clone)]
pub struct UserClient {
    http: reqwest::Client,
    base: String,
    pub name: String,
    token: String,
}

/// An answer, read; `None` status means the request got no HTTP answer at all.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
    pub took: Duration,
}

/// A request that got no HTTP answer (refused connection, reset, timeout).
#[derive(Debug, Clone)]
pub struct Transport(pub String);

/// The headers a command may carry.
#[derive(Default)]
pub struct Extra<'a> {
    pub if_match: Option<u64>,
    pub idempotency_key: Option<&'a str>,
}

impl UserClient {
    pub fn new(http: reqwest::Client, base: &str, name: &str, token: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            name: name.to_string(),
            token: token.to_string(),
        }
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        extra: Extra<'_>,
    ) -> Result<Reply, Transport> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(v) = extra.if_match {
            request = request.header("if-match", format!("\"{v}\""));
        }
        if let Some(k) = extra.idempotency_key {
            request = request.header("idempotency-key", k);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        let started = Instant::now();
        let response = request.send().await.map_err(|e| Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let text = response
            .text()
            .await
            .map_err(|e| Transport(e.to_string()))?;
        let took = started.elapsed();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply {
            status,
            body,
            replayed,
            took,
        })
    }

    /// Every item of a paged list route (`items` + `next_cursor`), following the cursors.
    pub async fn all_items(&self, path: &str) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
                None => format!("{path}{sep}limit=100"),
            };
            let reply = self
                .send(reqwest::Method::GET, &page_path, None, Extra::default())
                .await
                .map_err(|e| format!("GET {page_path}: {}", e.0))?;
            if reply.status != 200 {
                return Err(format!("GET {page_path}: {} {}", reply.status, reply.body));
            }
            if let Some(page) = reply.body["items"].as_array() {
                items.extend(page.iter().cloned());
            }
            match reply.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(items),
            }
        }
    }
}
