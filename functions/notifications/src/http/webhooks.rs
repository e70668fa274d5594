//! `POST /webhooks`, `GET /webhooks`, `DELETE /webhooks/{id}` and
//! `GET /webhooks/{id}/deliveries`: the caller's own webhooks and what was sent to each.
//!
//! A webhook's signing secret is shown once, in the `201` that creates it; lists never show
//! it (a leaked list must not let anyone forge deliveries). Another user's webhook is a 404,
//! like a missing one.

use lambda_http::{Body, Request, Response};
use todo_lambda::cursor::{CursorCodec, Scope};
use todo_lambda::http::{
    caller, empty_response, json_body, json_response, list_page, paging, path_param, query,
};
use todo_schema::user_webhook::{NewWebhook, UserWebhook, WEBHOOKS_MAX};
use todo_schema::{Problem, Timestamp};
use uuid::Uuid;

use super::STORE;
use crate::store::{Registered, UserWebhooks, WebhookLog};

/// What the API shows of a webhook (its secret only when `created`).
#[derive(serde::Serialize)]
struct Shown<'a> {
    id: Uuid,
    url: &'a str,
    task_events: bool,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

impl<'a> Shown<'a> {
    fn of(hook: &'a UserWebhook, created: bool) -> Self {
        Self {
            id: hook.id,
            url: &hook.url,
            task_events: hook.task_events,
            created_at: hook.created_at,
            secret: created.then_some(hook.secret.as_str()),
        }
    }
}

/// A fresh signing secret: 32 bytes from the operating system's CSPRNG, as `whsec_<hex>`.
fn new_secret() -> Result<String, Problem> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        tracing::error!(error = %e, "no randomness for a webhook secret");
        Problem::internal("could not create a secret")
    })?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

fn not_found() -> Problem {
    Problem::not_found("no webhook with this id")
}

/// Registers a webhook for the caller (201, its secret shown this once), for public https URLs
/// and the operator's `private_origins`.
pub async fn create_webhook<S: UserWebhooks>(
    store: &S,
    private_origins: &[String],
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let new: NewWebhook = json_body(&req, &["application/json"])?;
    let problems = new.problems(private_origins);
    if !problems.is_empty() {
        return Err(Problem::validation(problems));
    }
    let hook = new.into_webhook(&caller.sub, new_secret()?, Timestamp::now());
    match store.register(&hook).await.map_err(|e| e.problem(STORE))? {
        Registered::Stored => {
            let mut response = json_response(201, &Shown::of(&hook, true));
            if let Ok(location) = format!("/webhooks/{}", hook.id).parse() {
                response.headers_mut().insert("location", location);
            }
            Ok(response)
        }
        Registered::TooMany => Err(Problem::conflict(format!(
            "at most {WEBHOOKS_MAX} webhooks; delete one first"
        ))),
        Registered::Busy => Err(Problem::service_unavailable(
            "other webhooks of yours were being registered at the same moment; try again",
        )),
    }
}

/// The caller's webhooks, oldest first (`{"items": [...]}`; at most a handful, so one page).
pub async fn list_webhooks<S: UserWebhooks>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    if let Some(unknown) = query(&req)?.iter().next() {
        return Err(Problem::bad_request(format!(
            "unknown query parameter {}",
            unknown.0
        )));
    }
    let hooks = store
        .webhooks(&caller.sub)
        .await
        .map_err(|e| e.problem(STORE))?;
    let items: Vec<Shown> = hooks.iter().map(|h| Shown::of(h, false)).collect();
    Ok(json_response(200, &serde_json::json!({ "items": items })))
}

/// Removes one of the caller's webhooks (204): nothing more is sent to it, retries included.
pub async fn delete_webhook<S: UserWebhooks>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let id: Uuid = path_param(&req, "id").ok_or_else(not_found)?;
    if store
        .unregister(&caller.sub, id)
        .await
        .map_err(|e| e.problem(STORE))?
    {
        Ok(empty_response(204))
    } else {
        Err(not_found())
    }
}

const KNOWN: [&str; 2] = ["limit", "cursor"];

/// One of the caller's webhooks' delivery log, newest first, paged like every list.
pub async fn list_deliveries<S: UserWebhooks + WebhookLog>(
    store: &S,
    cursors: &CursorCodec,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let id: Uuid = path_param(&req, "id").ok_or_else(not_found)?;
    let params = query(&req)?;
    let (limit, cursor) = paging(&params, &KNOWN)?;
    if store
        .webhook(&caller.sub, id)
        .await
        .map_err(|e| e.problem(STORE))?
        .is_none()
    {
        return Err(not_found());
    }
    let scope = Scope::new("webhook-deliveries", 1)
        .part(&caller.sub)
        .part(id);
    list_page(cursors, &scope, cursor, async |start| {
        store
            .entries(id, limit as i32, start)
            .await
            .map_err(|e| e.problem(STORE))
    })
    .await
}
