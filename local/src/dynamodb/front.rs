//! The front: the endpoint the functions are given. It checks each call against the caller's
//! IAM role, passes what is allowed on to the engine, and meters what each answered call
//! would have cost in AWS ([`super::metering`], recorded in [`super::accounting`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use dynoxide::Database;
use serde_json::{Value, json};
use std::sync::Arc;

use super::accounting::{Kind, Ledger, PartitionLimits, SCAN_KEY, Throttle};
use super::latency::Latency;
use super::metering::{self, Action, Schemas, Targets};
use super::report::CapacityReport;
use crate::iam::Gate;

/// What the front needs: where the engine is, who may call it, and where the capacity is
/// recorded.
#[derive(Clone)]
pub(super) struct Front {
    pub(super) engine_url: String,
    pub(super) client: reqwest::Client,
    pub(super) gate: Gate,
    /// The engine itself, whose items' images size the writes.
    pub(super) db: Database,
    pub(super) schemas: Arc<Schemas>,
    pub(super) ledger: Arc<Ledger>,
    /// Item locks, by stripe: a write holds its items' stripes from reading their images
    /// before to reading them after, so that no other write to the same item comes between;
    /// writes to other items go on.
    pub(super) items: Arc<ItemLocks>,
    pub(super) settings: Arc<Settings>,
}

/// Locks over the items a write touches, by stripe (a hash of the item's table and key).
pub(super) struct ItemLocks(Vec<tokio::sync::Mutex<()>>);

impl Default for ItemLocks {
    fn default() -> Self {
        Self((0..64).map(|_| tokio::sync::Mutex::new(())).collect())
    }
}

impl ItemLocks {
    /// Every stripe of `targets`, taken in order (so two writes never wait on each other).
    async fn lock(&self, targets: &Targets) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut guards = Vec::new();
        for stripe in targets.stripes(self.0.len()) {
            guards.push(self.0[stripe].lock().await);
        }
        guards
    }
}

/// What can be changed while the front runs.
#[derive(Default)]
pub(super) struct Settings {
    pub(super) latency: std::sync::Mutex<Option<Latency>>,
    /// `None` (the default of an engine a test starts): nothing is throttled.
    pub(super) limits: std::sync::Mutex<Option<PartitionLimits>>,
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
    let delay = super::lock(&front.settings.latency).map(|l| l.draw());
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(Action::of_target);
    match (
        method == Method::POST,
        action,
        serde_json::from_slice(&body),
    ) {
        (true, Some(action), Ok(request)) => metered(&front, action, request, headers).await,
        _ => forward(&front, method, headers, body).await.into_response(),
    }
}

/// `GET /_capacity`: the accounting as JSON ([`CapacityReport`]); `?reset=true` starts it
/// afresh after answering.
pub(super) async fn capacity(
    State(front): State<Front>,
    query: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let report = CapacityReport::of(&front.ledger);
    if query.get("reset").is_some_and(|v| v == "true") {
        front.ledger.reset();
    }
    axum::Json(report).into_response()
}

/// A data-plane call: passed on, and, when the engine answers it with success, charged as
/// AWS would charge it. The caller's `ReturnConsumedCapacity` is answered with exactly the
/// recorded numbers, and a caller that did not ask gets none.
async fn metered(
    front: &Front,
    action: Action,
    mut request: Value,
    headers: HeaderMap,
) -> Response {
    let asked = request["ReturnConsumedCapacity"]
        .as_str()
        .unwrap_or("NONE")
        .to_string();
    let searched = metering::searched(action, &request, &front.schemas);
    let _items = match action.writes() {
        true => Some(
            front
                .items
                .lock(&Targets::of(action, &request, &front.schemas))
                .await,
        ),
        false => None,
    };
    let limits = *super::lock(&front.settings.limits);
    let mut unprocessed = None;
    if let (Action::BatchWriteItem, Some(limits)) = (action, limits) {
        // DynamoDB processes what it can of a batch and hands the throttled writes back.
        match throttle_batch(front, &mut request, limits) {
            Ok(refused) => unprocessed = refused,
            Err(throttle) => return throttled(&throttle),
        }
    }
    let targets = Targets::of(action, &request, &front.schemas);
    let before = match action.writes() {
        true => targets.images(&front.db),
        false => Vec::new(),
    };
    let mut touched = targets.touched(&front.schemas, &before);
    // A Scan reads every partition, none in particular: its pseudo-key is never hot (nor one
    // the front could not name).
    let read = searched
        .iter()
        .filter(|p| p.key != SCAN_KEY && p.key != metering::UNKNOWN_KEY);
    touched.extend(read.map(|p| (p.clone(), Kind::Read)));
    if let Some(throttle) = limits.and_then(|limits| front.ledger.refuse(&touched, limits)) {
        return throttled(&throttle);
    }
    if action.engine_sized() {
        request["ReturnConsumedCapacity"] = json!("INDEXES");
    }
    let body = Bytes::from(request.to_string());
    let answer = forward(front, Method::POST, headers, body).await;
    let Answer::Engine(status, headers, bytes) = answer else {
        return answer.into_response();
    };
    let Ok(Value::Object(mut out)) = serde_json::from_slice::<Value>(&bytes) else {
        return Answer::Engine(status, headers, bytes).into_response();
    };
    if !status.is_success() {
        return Answer::Engine(status, headers, bytes).into_response();
    }
    let engine_figure = out.remove("ConsumedCapacity").unwrap_or_default();
    let charges = match (action.engine_sized(), &searched) {
        (true, Some(partition)) => metering::searched_charges(partition, &engine_figure),
        (true, None) => Vec::new(),
        (false, _) => {
            let after = targets.images(&front.db);
            let before = match action.writes() {
                true => before,
                false => vec![None; after.len()],
            };
            targets.charges(&front.schemas, &before, &after)
        }
    };
    front.ledger.record(&charges);
    if let Some(refused) = unprocessed {
        out.insert("UnprocessedItems".into(), refused);
    }
    if let Some(consumed) = metering::consumed_capacity(action, &charges, &front.schemas, &asked) {
        out.insert("ConsumedCapacity".into(), consumed);
    }
    // The body changed, so its checksum would not match it: dropped, as a proxy that
    // rewrites a body must.
    let mut headers = headers;
    headers.remove("x-amz-crc32");
    Answer::Engine(status, headers, Bytes::from(Value::Object(out).to_string())).into_response()
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

/// Takes out of a BatchWriteItem the writes whose partitions have used their limit this
/// second, and answers them as its `UnprocessedItems` (`None`: all go through). When every
/// write is refused, the whole call is throttled, as DynamoDB throttles it.
fn throttle_batch(
    front: &Front,
    request: &mut Value,
    limits: PartitionLimits,
) -> Result<Option<Value>, Throttle> {
    let Some(tables) = request["RequestItems"].as_object_mut() else {
        return Ok(None);
    };
    let (mut kept, mut refused) = (serde_json::Map::new(), serde_json::Map::new());
    let mut last = None;
    for (table, writes) in std::mem::take(tables) {
        for write in writes.as_array().into_iter().flatten() {
            let one = json!({"RequestItems": {&table: [write]}});
            let targets = Targets::of(Action::BatchWriteItem, &one, &front.schemas);
            let touched = targets.touched(&front.schemas, &targets.images(&front.db));
            let side = match front.ledger.refuse(&touched, limits) {
                Some(throttle) => {
                    last = Some(throttle);
                    &mut refused
                }
                None => &mut kept,
            };
            let list = side.entry(&table).or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(write.clone());
            }
        }
    }
    *tables = kept;
    match (tables.is_empty(), last) {
        (true, Some(throttle)) => Err(throttle),
        (_, Some(_)) => Ok(Some(Value::Object(refused))),
        (_, None) => Ok(None),
    }
}

/// DynamoDB's answer to a request past a partition's limit: HTTP 400 with
/// `ProvisionedThroughputExceededException`, which the SDKs retry with backoff ("The AWS SDKs
/// for DynamoDB automatically retry requests that receive this exception"), and the
/// `ThrottlingReasons` that name the limit and the table or index ARN: "When individual
/// partitions exceed their throughput limits, DynamoDB returns a KeyRangeThroughputExceeded
/// throttling reason type in the throttling exception", as `Table|Index` + `Read|Write` +
/// `KeyRangeThroughputExceeded`
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/throttling-key-range-limit-exceeded-mitigation.html>;
/// the exception's shape, `{"message", "ThrottlingReasons": [{"reason", "resource"}]}`:
/// <https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ProvisionedThroughputExceededException.html>).
fn throttled(t: &Throttle) -> Response {
    let table = crate::template::table_arn(&t.partition.table);
    let (resource, on) = match &t.partition.index {
        Some(index) => (format!("{table}/index/{index}"), "Index"),
        None => (table, "Table"),
    };
    let kind = match t.kind {
        Kind::Read => "Read",
        Kind::Write => "Write",
    };
    let message = format!(
        "Throughput exceeds the current capacity of your table or index. DynamoDB is \
         automatically scaling your table or index so please try again shortly. If exceptions \
         persist, check if you have a hot key: \
         https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html \
         (todo-local: key {:?} used {} of its {} {} units this second)",
        t.partition.key,
        t.used,
        t.limit,
        kind.to_lowercase()
    );
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": message,
            "ThrottlingReasons": [{
                "reason": format!("{on}{kind}KeyRangeThroughputExceeded"),
                "resource": resource,
            }],
        })
        .to_string(),
    )
        .into_response()
}

/// The engine's answer (status, headers, body), or none when it could not be reached.
enum Answer {
    Engine(StatusCode, HeaderMap, Bytes),
    Unreachable,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let Answer::Engine(status, headers, bytes) = self else {
            return StatusCode::BAD_GATEWAY.into_response();
        };
        let mut response = (status, bytes).into_response();
        for (name, value) in &headers {
            if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
                response.headers_mut().insert(name, value.clone());
            }
        }
        response
    }
}

/// Passes a call to the engine and brings its answer back, headers and all.
async fn forward(front: &Front, method: Method, headers: HeaderMap, body: Bytes) -> Answer {
    let mut request = front
        .client
        .request(method, format!("{}/", front.engine_url));
    for (name, value) in &headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.body(body).send().await else {
        return Answer::Unreachable;
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    match answer.bytes().await {
        Ok(bytes) => Answer::Engine(status, headers, bytes),
        Err(_) => Answer::Unreachable,
    }
}
