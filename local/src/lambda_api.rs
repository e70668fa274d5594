//! AWS Lambda's Invoke API on 127.0.0.1 (`AWS_ENDPOINT_URL_LAMBDA`), so a function invokes
//! another through the SDK as it does in AWS (the reminder sweep hands a burst to its workers).
//!
//! As the Lambda API reference has it ("Invoke"):
//! - `POST /2015-03-31/functions/{FunctionName}/invocations`, the function by name, ARN or
//!   partial ARN (`000000000000:function:F`); one version of each function runs locally, so a
//!   qualifier (`:q` or `?Qualifier=q`) other than `$LATEST`, or an ARN of another region or
//!   account, is 404 `ResourceNotFoundException` (two qualifiers that differ: 400).
//! - `X-Amz-Invocation-Type`: `RequestResponse` (the default) answers 200 with the function's
//!   payload, and `X-Amz-Function-Error: Unhandled` with its error when it fails, 429
//!   `TooManyRequestsException` when every environment it may run is busy; `Event` answers 202
//!   at once and queues the event: invoked when an environment is free (Lambda's queue retries a
//!   throttled event), retried on a function error, a crash or a timeout
//!   `EventInvokeConfig.MaximumRetryAttempts` times (default 2) a minute and two apart;
//!   `DryRun` answers 204.
//! - At most 6 MB synchronous, 1 MB asynchronous ("For synchronous invocations, the maximum
//!   payload size is 6 MB. For asynchronous invocations, the maximum payload size is 1 MB."):
//!   413 `RequestTooLargeException` past it.
//! - IAM: `lambda:InvokeFunction` on the function's ARN, checked before anything else (403; a
//!   caller denied learns nothing of whether the function exists); 404
//!   `ResourceNotFoundException` for a function the template does not declare.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::esm::schedule::{failed, retry_async};
use crate::gateway::InvocationObserver;
use crate::iam::{Gate, Request};
use crate::runtime::{FunctionHost, Outcome};
use crate::template::{ACCOUNT_ID, REGION};

/// Lambda's limit on a synchronous invocation's request payload.
pub const SYNC_LIMIT_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's limit on an asynchronous invocation's payload.
pub const ASYNC_LIMIT_BYTES: usize = 1024 * 1024;

/// A function the API serves: its host, and how many times an asynchronous event it fails is
/// retried (its `EventInvokeConfig.MaximumRetryAttempts`, 0 to 2).
#[derive(Clone)]
pub struct Invocable {
    pub host: Arc<FunctionHost>,
    pub async_retries: usize,
}

/// A running endpoint. It binds first (the functions' environments name its URL) and serves
/// once the functions it invokes are running ([`Self::serve`]).
pub struct LocalLambda {
    url: String,
    gate: Gate,
    serving: Arc<OnceLock<Serving>>,
}

/// What the endpoint invokes, and who is told of each invocation.
#[derive(Clone)]
pub struct Serving {
    pub functions: Arc<HashMap<String, Invocable>>,
    pub observe: InvocationObserver,
    /// The delays between an asynchronous event's retries ([`ASYNC_RETRY_DELAYS`](crate::esm::schedule::ASYNC_RETRY_DELAYS)).
    pub retry_delays: [Duration; 2],
}

#[derive(Clone)]
struct Served {
    serving: Arc<OnceLock<Serving>>,
    gate: Gate,
}

impl LocalLambda {
    /// Binds a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let gate = Gate::default();
        let serving = Arc::new(OnceLock::new());
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    "UnknownOperationException",
                    "only Invoke is served locally",
                )
            })
            // The limits are Lambda's, answered in its shape below (an outside tester got
            // axum's own bare 413 past 6 MB).
            .layer(DefaultBodyLimit::disable())
            .with_state(Served {
                serving: Arc::clone(&serving),
                gate: gate.clone(),
            });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, gate, serving })
    }

    /// From now on the endpoint invokes these functions (by logical id, the local name).
    pub fn serve(&self, serving: Serving) {
        let _ = self.serving.set(serving);
    }

    /// Who may invoke: from now on each call is checked against the caller's role.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The endpoint URL, as `AWS_ENDPOINT_URL_LAMBDA` names it.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The `EventInvokeConfig.MaximumRetryAttempts` of a function's resolved properties (2 when
/// unset, as Lambda's default).
pub fn async_retries(properties: &serde_json::Value) -> usize {
    properties["EventInvokeConfig"]["MaximumRetryAttempts"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .or_else(|| properties["EventInvokeConfig"]["MaximumRetryAttempts"].as_u64())
        .map_or(2, |n| (n as usize).min(2))
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", kind),
        ],
        json!({"Type": "User", "message": message}).to_string(),
    )
        .into_response()
}

/// A function as `FunctionName` names it: a name, an ARN (`arn:aws:lambda:R:A:function:F`) or a
/// partial ARN (`A:function:F`), each with an optional `:qualifier`.
#[derive(Debug, PartialEq, Eq)]
struct Named<'a> {
    name: &'a str,
    /// The ARN it is authorized as: the one given, or the local one.
    arn: String,
    /// Whether it names this cloud's region and account (else no such function here).
    here: bool,
    qualifier: Option<&'a str>,
}

fn named(given: &str) -> Named<'_> {
    let (region, account, rest) = match given.split_once(":function:") {
        Some((head, rest)) => {
            let parts: Vec<&str> = head.split(':').collect();
            match parts.as_slice() {
                ["arn", _partition, "lambda", region, account] => (*region, *account, rest),
                [account] => (REGION, *account, rest),
                _ => ("", "", rest),
            }
        }
        None => (REGION, ACCOUNT_ID, given),
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((name, q)) => (name, Some(q)),
        None => (rest, None),
    };
    Named {
        name,
        arn: format!("arn:aws:lambda:{region}:{account}:function:{name}"),
        here: region == REGION && account == ACCOUNT_ID,
        qualifier,
    }
}

/// The query string Invoke takes.
#[derive(serde::Deserialize)]
struct InvokeQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

async fn invoke(
    State(served): State<Served>,
    Path(given): Path<String>,
    Query(query): Query<InvokeQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = named(&given);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Err(refusal) = served.gate.check(
        authorization,
        &[Request::new("lambda:InvokeFunction", target.arn.clone())],
    ) {
        return error(StatusCode::FORBIDDEN, refusal.kind(), &refusal.to_string());
    }
    let Some(serving) = served.serving.get().cloned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "the local cloud is still starting",
        );
    };
    let qualifier = match (target.qualifier, query.qualifier.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified qualifier.",
            );
        }
        (a, b) => a.or(b),
    };
    // The local cloud runs one version of each function: `$LATEST`; no other version or alias.
    let function = serving
        .functions
        .get(target.name)
        .filter(|_| target.here && qualifier.is_none_or(|q| q == "$LATEST"))
        .cloned();
    let Some(function) = function else {
        let qualified = match qualifier {
            Some(q) => format!("{}:{q}", target.arn),
            None => target.arn.clone(),
        };
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {qualified}"),
        );
    };
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    let limit = match kind {
        "Event" => ASYNC_LIMIT_BYTES,
        "RequestResponse" | "DryRun" => SYNC_LIMIT_BYTES,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("unknown InvocationType {other:?}"),
            );
        }
    };
    let too_large = |size: String| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            &format!(
                "{size} byte payload is too large for the {kind} invocation type (limit {limit} bytes)"
            ),
        )
    };
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(_) => {
            let size = headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("more than the limit's")
                .to_string();
            return too_large(size);
        }
    };
    let payload = if body.is_empty() {
        b"{}".to_vec()
    } else {
        body.to_vec()
    };
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json",
        );
    }
    match kind {
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        "Event" => {
            tokio::spawn(async move {
                // Lambda's queue holds a throttled event until the function can take it.
                let invocation = function.host.invoke(payload.clone()).await;
                (serving.observe)(function.host.name(), "invoke (async)", &invocation);
                if failed(&invocation.outcome) && function.async_retries > 0 {
                    let delays = &serving.retry_delays[..function.async_retries];
                    retry_async(&function.host, &payload, "invoke", &serving.observe, delays).await;
                }
            });
            StatusCode::ACCEPTED.into_response()
        }
        _ => {
            let invocation = function.host.invoke_or_throttle(payload).await;
            (serving.observe)(function.host.name(), "invoke", &invocation);
            // What the function failed with, as Lambda answers it: 200, the error as the payload.
            let function_error = |payload: String| {
                (
                    StatusCode::OK,
                    [
                        ("content-type", "application/json"),
                        ("x-amz-function-error", "Unhandled"),
                    ],
                    payload,
                )
                    .into_response()
            };
            let unhandled = |message: &str| {
                function_error(
                    json!({"errorMessage": message, "errorType": "Unhandled"}).to_string(),
                )
            };
            match invocation.outcome {
                Outcome::Ok(out) => {
                    (StatusCode::OK, [("content-type", "application/json")], out).into_response()
                }
                Outcome::FunctionError(e) => function_error(e),
                Outcome::Crashed(e) => unhandled(&e),
                Outcome::TimedOut => unhandled("Task timed out"),
                Outcome::Throttled => error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    "Rate Exceeded.",
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_is_named_by_name_arn_or_partial_arn() {
        let local = "arn:aws:lambda:us-east-1:000000000000:function:F";
        for (given, qualifier) in [
            ("F", None),
            ("F:$LATEST", Some("$LATEST")),
            (local, None),
            (
                "arn:aws:lambda:us-east-1:000000000000:function:F:live",
                Some("live"),
            ),
            ("000000000000:function:F", None),
        ] {
            let n = named(given);
            assert_eq!(
                (n.name, n.arn.as_str(), n.here, n.qualifier),
                ("F", local, true, qualifier),
                "{given}"
            );
        }
        // Another region's or account's function is authorized as itself, and is not here.
        for given in [
            "arn:aws:lambda:eu-west-1:000000000000:function:F",
            "arn:aws:lambda:us-east-1:111111111111:function:F",
            "111111111111:function:F",
        ] {
            let n = named(given);
            assert!(!n.here, "{given}");
            assert_ne!(n.arn, local, "{given}");
        }
    }

    #[test]
    fn retries_follow_the_event_invoke_config() {
        assert_eq!(async_retries(&json!({})), 2);
        assert_eq!(
            async_retries(&json!({"EventInvokeConfig": {"MaximumRetryAttempts": "0"}})),
            0
        );
        assert_eq!(
            async_retries(&json!({"EventInvokeConfig": {"MaximumRetryAttempts": 1}})),
            1
        );
    }
}
