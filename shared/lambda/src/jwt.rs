//! JWT verification as API Gateway's HTTP API JWT authorizer performs it, written once for the
//! WebSocket API's Lambda authorizer (which must accept exactly the tokens the HTTP API accepts)
//! and for the local cloud's emulation of the HTTP API's authorizer.
//!
//! The rules, from the API Gateway developer guide ("Control access to HTTP APIs with JWT
//! authorizers"): the token alone or after `Bearer`; only RSA-based algorithms; `kid` must name
//! a key of the issuer's JWKS; `iss` must be the issuer; `aud` must be one of the audiences, or,
//! only when there is no `aud`, `client_id` must be (Cognito access tokens carry `client_id`);
//! `exp` after now; `nbf` and `iat` before it. Claims that are JSON `null` carry no value.
//!
//! A key of the set that declares its algorithm (`alg`, RFC 7517 §4.4) verifies only tokens
//! whose header names that algorithm: an issuer that signs RS256 does not vouch for an RS512
//! signature with the same key.
//!
//! One rule of ours on top: a `sub` that is present must be a JSON string. RFC 7519 §4.1.2
//! makes it a StringOrURI, and the HTTP API hands claims to functions as strings, so a
//! numeric `12345` would reach them as `"12345"` and act as the user whose subject is that
//! string. Both authorizers refuse such a token, through this one check.

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// What a token must satisfy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// The `iss` every token must carry (the identity provider's issuer URL).
    pub issuer: String,
    /// The `aud` (or `client_id`) values accepted.
    pub audiences: Vec<String>,
}

/// Why a token was refused; the message is for logs, never for the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("no token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("no key of the issuer's JWKS has this kid")]
    UnknownKey,
    #[error("algorithm {0:?} is not RSA-based")]
    Algorithm(Algorithm),
    #[error("algorithm {token:?} is not the {key} its key declares")]
    KeyAlgorithm { token: Algorithm, key: KeyAlgorithm },
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// The token in an `Authorization` header: alone, or after the `Bearer` scheme in any case
/// (RFC 9110 §11.1).
pub fn bearer(authorization: &str) -> Result<&str, JwtError> {
    let value = authorization.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    if token.is_empty() || token.contains(' ') {
        return Err(JwtError::Missing);
    }
    Ok(token)
}

/// The `kid` of a token's header (to look its key up, or to know a refreshed JWKS is needed).
pub fn kid(token: &str) -> Result<String, JwtError> {
    jsonwebtoken::decode_header(token)
        .map_err(|e| JwtError::Malformed(e.to_string()))?
        .kid
        .ok_or_else(|| JwtError::Malformed("no kid in the header".into()))
}

fn unix_now() -> u64 {
    todo_schema::Timestamp::now().epoch_seconds().max(0) as u64
}

/// The claims of `token` when it satisfies `rules` with a key of `jwks`.
pub fn verify(token: &str, jwks: &JwkSet, rules: &Rules) -> Result<Map<String, Value>, JwtError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(JwtError::Algorithm(header.alg));
    }
    let kid = header
        .kid
        .ok_or_else(|| JwtError::Malformed("no kid in the header".into()))?;
    let jwk = jwks.find(&kid).ok_or(JwtError::UnknownKey)?;
    if let Some(key) = jwk.common.key_algorithm
        && key != KeyAlgorithm::from(header.alg)
    {
        return Err(JwtError::KeyAlgorithm {
            token: header.alg,
            key,
        });
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| JwtError::Invalid(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.set_issuer(&[&rules.issuer]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| JwtError::Invalid(e.to_string()))?
        .claims;
    let accepted = |v: &Value| {
        v.as_str()
            .is_some_and(|a| rules.audiences.iter().any(|x| x == a))
    };
    let audience_ok = match claims.get("aud").filter(|v| !v.is_null()) {
        Some(Value::Array(auds)) => auds.iter().any(accepted),
        Some(aud) => accepted(aud),
        None => claims.get("client_id").is_some_and(accepted),
    };
    if !audience_ok {
        return Err(JwtError::Invalid(
            "neither aud nor client_id is an accepted audience".into(),
        ));
    }
    match claims.get("sub") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => return Err(JwtError::Invalid("sub is not a string".into())),
    }
    match claims.get("iat") {
        None | Some(Value::Null) => {}
        Some(iat) => match iat.as_f64() {
            Some(iat) if iat <= unix_now() as f64 => {}
            Some(_) => return Err(JwtError::Invalid("issued in the future (iat)".into())),
            None => return Err(JwtError::Invalid("iat is not a NumericDate".into())),
        },
    }
    Ok(claims.into_iter().filter(|(_, v)| !v.is_null()).collect())
}
