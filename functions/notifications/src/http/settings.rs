//! `GET /settings/notifications` and `PUT /settings/notifications`: the caller's own settings.

use lambda_http::{Body, Request, Response};
use todo_lambda::http::{caller, json_body, json_response};
use todo_schema::Problem;
use todo_schema::settings::NotificationSettings;

use super::STORE;
use crate::store::Settings;

/// The caller's settings (the defaults until they set some).
pub async fn get_settings<S: Settings>(store: &S, req: Request) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let settings = store
        .settings(&caller.sub)
        .await
        .map_err(|e| e.problem(STORE))?;
    Ok(json_response(200, &settings))
}

/// Replaces the caller's settings, after validating all of them (a 422 names each bad field);
/// the service's own `email.stopped` is kept or cleared, never taken from the request.
pub async fn put_settings<S: Settings>(store: &S, req: Request) -> Result<Response<Body>, Problem> {
    let caller = caller(&req)?;
    let mut settings: NotificationSettings = json_body(&req, &["application/json"])?;
    let problems = settings.problems();
    if !problems.is_empty() {
        return Err(Problem::validation(problems));
    }
    // Why the service turned e-mail off stays while it stays off at that address.
    let before = store
        .settings(&caller.sub)
        .await
        .map_err(|e| e.problem(STORE))?;
    settings.email = settings.email.replacing(&before.email);
    store
        .put_settings(&caller.sub, &settings)
        .await
        .map_err(|e| e.problem(STORE))?;
    Ok(json_response(200, &settings))
}
