//! The WebSocket API's `$connect` authorizer (a Lambda REQUEST authorizer).
//!
//! It accepts exactly the tokens the HTTP API's JWT authorizer accepts: the same rules
//! (`todo_lambda::jwt`), against the same issuer's key set. The token comes from the
//! `Authorization` header (alone or after `Bearer`) or, for browsers, which cannot set headers
//! on a WebSocket, from the `token` query parameter. The answer is an IAM policy allowing
//! `execute-api:Invoke` on the `$connect` method ARN, with the caller's `sub` as principal and
//! in the context, where every later route of the connection finds it
//! (`requestContext.authorizer`). A missing or invalid token is the error `Unauthorized`,
//! which API Gateway turns into 401 (developer guide, "Control access to WebSocket APIs with
//! AWS Lambda REQUEST authorizers"); a key set that cannot be fetched is another error (500),
//! so a client retries instead of believing its token bad.
//!
//! The key set is found through the issuer's OIDC discovery document and kept per process for
//! an hour; a token naming a key the set lacks (the provider rotated) fetches it again, at
//! most once a minute.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use todo_lambda::jwt::{JwtError, Rules, bearer, verify};

/// How long a fetched key set is used before it is fetched again.
pub const KEYS_FRESH_FOR: Duration = Duration::from_secs(3600);
/// The least time between two fetches forced by an unknown `kid`.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);

/// Why a connection is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// API Gateway answers 401 for exactly this error message.
    #[error("Unauthorized")]
    Unauthorized,
    /// The issuer's keys could not be had: a 500, worth retrying.
    #[error("the issuer's keys are unavailable: {0}")]
    KeysUnavailable(KeysError),
}

/// Why the issuer's keys could not be had, sorted the way the table's failures are.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeysError {
    /// The issuer is unreachable, slow, or answered a server error: a retry may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The issuer answered, but not with keys (a 4xx, no `jwks_uri`, not a key set): a retry
    /// gets the same until its configuration changes.
    #[error("{0}")]
    Invalid(String),
}

impl KeysError {
    /// A failed request of `stage` (`discovery`, `jwks`), sorted.
    fn of(stage: &str, e: reqwest::Error) -> Self {
        let text = format!("{stage}: {e}");
        if e.is_decode() || e.status().is_some_and(|s| s.is_client_error()) {
            KeysError::Invalid(text)
        } else {
            KeysError::Unavailable(text)
        }
    }
}

/// Where the issuer's keys come from.
pub trait KeySource {
    /// The key set; `fresh` asks for one fetched now.
    fn keys(&self, fresh: bool) -> impl Future<Output = Result<JwkSet, KeysError>> + Send;
}

/// The issuer's keys over HTTP: discovery document, then `jwks_uri`; cached.
pub struct OidcKeys {
    http: reqwest::Client,
    issuer: String,
    cache: Mutex<Option<(JwkSet, Instant)>>,
}

impl OidcKeys {
    pub fn new(issuer: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            issuer: issuer.trim_end_matches('/').to_string(),
            cache: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, KeysError> {
        let discovery: serde_json::Value = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| KeysError::of("discovery", e))?
            .json()
            .await
            .map_err(|e| KeysError::of("discovery", e))?;
        let uri = discovery["jwks_uri"]
            .as_str()
            .ok_or_else(|| KeysError::Invalid("discovery: no jwks_uri".into()))?;
        self.http
            .get(uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| KeysError::of("jwks", e))?
            .json()
            .await
            .map_err(|e| KeysError::of("jwks", e))
    }
}

impl KeySource for OidcKeys {
    async fn keys(&self, fresh: bool) -> Result<JwkSet, KeysError> {
        let cached = self.cache.lock().ok().and_then(|c| c.clone());
        if let Some((keys, at)) = &cached {
            let limit = if fresh {
                REFETCH_AT_MOST_EVERY
            } else {
                KEYS_FRESH_FOR
            };
            if at.elapsed() < limit {
                return Ok(keys.clone());
            }
        }
        match self.fetch().await {
            Ok(keys) => {
                if let Ok(mut c) = self.cache.lock() {
                    *c = Some((keys.clone(), Instant::now()));
                }
                Ok(keys)
            }
            // A provider that is down for a moment must not lock everyone out: the keys last
            // fetched still verify the tokens they signed.
            Err(e) => cached.map(|(keys, _)| keys).ok_or(e),
        }
    }
}

/// The token a `$connect` request carries.
fn token_of(event: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Option<&str> {
    if let Some(h) = event
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        return bearer(h).ok();
    }
    event
        .query_string_parameters
        .first("token")
        .filter(|t| !t.is_empty())
}

/// Authorizes a `$connect`.
pub async fn authorize<K: KeySource>(
    keys: &K,
    rules: &Rules,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, Refusal> {
    let token = token_of(&event).ok_or(Refusal::Unauthorized)?;
    // Refused tokens count as Lambda errors too, so keys out of reach have a metric of their
    // own (the template's alarm reads it).
    let unavailable = |reason: KeysError| {
        todo_lambda::metrics::emit("ws-authorize", &[("KeysUnavailable", 1)]);
        Refusal::KeysUnavailable(reason)
    };
    let set = keys.keys(false).await.map_err(unavailable)?;
    let claims = match verify(token, &set, rules) {
        Err(JwtError::UnknownKey) => {
            let set = keys.keys(true).await.map_err(unavailable)?;
            verify(token, &set, rules)
        }
        other => other,
    }
    .map_err(|e| {
        tracing::info!(reason = %e, "connection refused");
        Refusal::Unauthorized
    })?;
    let sub = claims
        .get("sub")
        .and_then(|s| s.as_str())
        .filter(|s| !s.trim().is_empty())
        .ok_or(Refusal::Unauthorized)?
        .to_string();
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![event.method_arn.unwrap_or_default()];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(sub.clone());
    response.policy_document = policy;
    response.context = json!({ "sub": sub });
    Ok(response)
}

impl From<Refusal> for lambda_runtime::Diagnostic {
    /// The invocation error API Gateway reads: `Unauthorized` is a 401, anything else a 500.
    fn from(r: Refusal) -> Self {
        let error_type = match r {
            Refusal::Unauthorized => "Unauthorized",
            Refusal::KeysUnavailable(_) => "KeysUnavailable",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: r.to_string(),
        }
    }
}
