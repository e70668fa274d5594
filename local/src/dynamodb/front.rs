//! The front: the endpoint the functions are given. It checks each call against the caller's
//! IAM role and passes what is allowed on to the engine.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::iam::Gate;

/// What the front needs: where the engine is, and who may call it.
#[derive(Clone)]
pub(super) struct Front {
    pub(super) engine_url: String,
    pub(super) client: reqwest::Client,
    pub(super) gate: Gate,
}

/// The front: a call its caller's role allows goes to the engine as it came; a refused one
/// gets DynamoDB's answer (JSON 1.0 protocol: HTTP 400 with `__type`).
pub(super) async fn front(
    State(front): State<Front>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::POST && front.gate.is_set() {
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let parsed = serde_json::from_slice::<Value>(&body)
            .map_err(|e| e.to_string())
            .and_then(|b| crate::iam::requests::dynamodb(target, &b));
        let refused = match parsed {
            Ok(requests) => front.gate.check(authorization, &requests).err(),
            // What IAM cannot read, the engine refuses for the operator too; a function gets
            // the same answer without reaching it.
            Err(reason) => match front.gate.check(authorization, &[]) {
                Err(refusal) => Some(refusal),
                Ok(())
                    if crate::iam::requests::access_key(authorization)
                        == Some(crate::iam::OPERATOR_ACCESS_KEY) =>
                {
                    None
                }
                Ok(()) => return dynamodb_error("ValidationException", &reason),
            },
        };
        if let Some(refusal) = refused {
            return dynamodb_error(refusal.kind(), &refusal.to_string());
        }
    }
    forward(&front, method, headers, body).await
}

/// DynamoDB's error shape: `{"__type": "com.amazon.coral.service#<Kind>", "Message": ...}`.
fn dynamodb_error(kind: &str, message: &str) -> Response {
    let namespace = if kind == "ValidationException" {
        "com.amazon.coral.validate"
    } else {
        "com.amazon.coral.service"
    };
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        json!({"__type": format!("{namespace}#{kind}"), "Message": message}).to_string(),
    )
        .into_response()
}

/// Passes a call to the engine and its answer back, headers and all.
async fn forward(front: &Front, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let mut request = front
        .client
        .request(method, format!("{}/", front.engine_url));
    for (name, value) in &headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    match request.body(body).send().await {
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            match answer.bytes().await {
                Ok(bytes) => {
                    let mut response = (status, bytes).into_response();
                    for (name, value) in &headers {
                        if name != http::header::CONTENT_LENGTH
                            && name != http::header::TRANSFER_ENCODING
                        {
                            response.headers_mut().insert(name, value.clone());
                        }
                    }
                    response
                }
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
