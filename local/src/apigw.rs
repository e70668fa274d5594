//! API Gateway HTTP API (payload 2.0) events: what API Gateway hands a function for an HTTP
//! request, with the JWT authorizer's claims. The local gateway builds them for every request
//! it routes; tests build them through `testing::apigw` (the `test-support` feature).

use serde_json::{Value, json};

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
