//! `POST /push-subscriptions`, `DELETE /push-subscriptions/{id}` and
//! `GET /push/vapid-public-key`: the caller's Web Push devices, and the key a browser
//! subscribes with (`applicationServerKey`).

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{caller, empty_response, json_body, json_response, path_param};
use todo_schema::push::{NewPushSubscription, PushSubscription, SUBSCRIPTIONS_MAX};
use todo_schema::{FieldError, Problem, Timestamp};
use uuid::Uuid;

use super::STORE;
use crate::store::{PushSubscriptions, Subscribed};

/// What the API shows of a subscription (its keys stay with the server).
#[derive(serde::Serialize)]
struct Shown<'a> {
    id: Uuid,
    endpoint: &'a str,
    created_at: Timestamp,
}

impl<'a> From<&'a PushSubscription> for Shown<'a> {
    fn from(s: &'a PushSubscription) -> Self {
        Self {
            id: s.id,
            endpoint: &s.endpoint,
            created_at: s.created_at,
        }
    }
}

/// Stores the caller's subscription, for endpoints on `allowed_hosts` (201; subscribing the
/// same endpoint again replaces its keys).
pub async fn subscribe<S: PushSubscriptions>(
    store: &S,
    allowed_hosts: &[String],
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let new: NewPushSubscription = json_body(&req, &["application/json"])?;
    let mut problems = new.problems(allowed_hosts);
    if problems.iter().all(|p| p.field != "keys.p256dh") && !on_the_curve(&new.keys.p256dh) {
        problems.push(FieldError::new(
            "keys.p256dh",
            "invalid",
            "not a point on the P-256 curve",
        ));
    }
    if !problems.is_empty() {
        return Err(Problem::validation(problems));
    }
    let subscription = new.into_subscription(&caller.sub, Timestamp::now());
    match store
        .subscribe(&subscription)
        .await
        .map_err(|e| e.problem(STORE))?
    {
        Subscribed::Stored => {
            let mut response = json_response(201, &Shown::from(&subscription));
            if let Ok(location) = format!("/push-subscriptions/{}", subscription.id).parse() {
                response.headers_mut().insert("location", location);
            }
            Ok(response)
        }
        Subscribed::TooMany => Err(Problem::conflict(format!(
            "at most {SUBSCRIPTIONS_MAX} push subscriptions; delete one first"
        ))),
        Subscribed::Busy => Err(Problem::service_unavailable(
            "other devices of yours were being subscribed at the same moment; try again",
        )),
    }
}

/// Whether the key (of the right size already) is a point of P-256: a device whose key is not
/// could never be pushed to.
fn on_the_curve(p256dh: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p256dh)
        .ok()
        .is_some_and(|k| web_push_native::p256::PublicKey::from_sec1_bytes(&k).is_ok())
}

/// Removes one of the caller's subscriptions (204); another user's is a 404, like a missing one.
pub async fn unsubscribe<S: PushSubscriptions>(
    store: &S,
    req: Request,
) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let not_found = || Problem::not_found("no push subscription with this id");
    let id: Uuid = path_param(&req, "id").ok_or_else(not_found)?;
    if store
        .unsubscribe(&caller.sub, id)
        .await
        .map_err(|e| e.problem(STORE))?
    {
        Ok(empty_response(204))
    } else {
        Err(not_found())
    }
}

/// The VAPID public key (uncompressed P-256, base64url): a browser's `applicationServerKey`.
pub async fn vapid_public_key(public_key: &str, req: Request) -> Result<Response<Body>, Problem> {
    caller(&req)?;
    Ok(json_response(200, &serde_json::json!({"key": public_key})))
}
