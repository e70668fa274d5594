//! `POST /tasks`.

use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use todo_lambda::http::{caller, json_body};
use todo_schema::limits::IDEMPOTENCY_KEY_MAX_CHARS;
use todo_schema::{NewTask, Problem, TaskId, Timestamp};

use super::{actor, store_problem, task_response};
use crate::store::{CreateTask, Created, IdempotencyClaim};

/// Creates a task. With an `Idempotency-Key`, a retry within 24 h returns the first response
/// (marked `Idempotent-Replayed: true`) and creates nothing; the same key with another body is
/// refused with 422.
pub async fn create_task<S: CreateTask>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let key = idempotency_key(&req)?;
    let cmd: NewTask = json_body(&req, &["application/json"])?;
    let claim = key.map(|key| IdempotencyClaim {
        key,
        request_digest: digest(&cmd),
    });
    let task = cmd
        .into_task(TaskId::generate(), &caller.sub, Timestamp::now())
        .map_err(Problem::validation)?;
    let created = store
        .create(&task, &actor(&caller), claim.as_ref())
        .await
        .map_err(store_problem)?;
    let (task, replayed) = match created {
        Created::New(task) => (task, false),
        Created::Replayed(task) => (task, true),
    };
    let mut response = task_response(201, &task);
    let headers = response.headers_mut();
    if let Ok(v) = format!("/tasks/{}", task.id).parse() {
        headers.insert("location", v);
    }
    if replayed {
        headers.insert(
            "idempotent-replayed",
            http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

fn idempotency_key(req: &Request) -> Result<Option<String>, Problem> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw.to_str().unwrap_or("").trim();
    let valid = !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_MAX_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(key.to_string()))
    } else {
        Err(Problem::bad_request(format!(
            "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} visible ASCII characters"
        )))
    }
}

/// A digest of the request's meaning (not its bytes), so re-serializing the same body with
/// other whitespace still counts as the same request.
fn digest(cmd: &NewTask) -> String {
    let canonical = serde_json::to_vec(cmd).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}
