//! The JWT authorizer emulation: tokens signed (HS256) with a key kept in the data folder, so
//! they stay valid across restarts. A request with a valid bearer token reaches its function with
//! the token's claims in `requestContext.authorizer.jwt.claims` (each as a string, as API Gateway
//! passes them); any other request gets 401 and invokes nothing.
//!
//! It checks what the HTTP API's JWT authorizer checks (API Gateway developer guide, "Control
//! access to HTTP APIs with JWT authorizers"): the Authorization header holds the token alone or
//! prefixed with `Bearer` (the scheme in any case, RFC 9110 §11.1); the signature; `iss` must
//! match the configured issuer; `aud` one of the audiences; `exp` must be after the current time
//! and `nbf` and `iat` before it. A claim that is JSON `null` carries no value and is not passed
//! on, so a `"sub": null` token reaches the function without a subject (which answers 401).

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

/// Issuer and audience of local tokens.
pub const ISSUER: &str = "todo-local";
pub const AUDIENCE: &str = "todo-local";

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Signs and verifies local tokens.
pub struct LocalAuthorizer {
    key: Vec<u8>,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl LocalAuthorizer {
    /// The authorizer whose key is `dir/jwt-signing.key`, created on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join("jwt-signing.key");
        if let Ok(key) = std::fs::read_to_string(&path)
            && key.trim().len() >= 32
        {
            return Ok(Self {
                key: key.trim().as_bytes().to_vec(),
            });
        }
        std::fs::create_dir_all(dir)?;
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        std::fs::write(&path, &key)?;
        Ok(Self {
            key: key.into_bytes(),
        })
    }

    /// A token for `user`, valid for `hours`.
    pub fn token(&self, user: &str, hours: u64) -> String {
        self.token_until(user, unix_now() + hours * 3600)
    }

    fn token_until(&self, user: &str, exp: u64) -> String {
        self.sign(
            &json!({"sub": user, "iss": ISSUER, "aud": AUDIENCE, "iat": unix_now(), "exp": exp}),
        )
    }

    /// The claims of the request's bearer token, each rendered as a string.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Value, AuthError> {
        let token = authorization
            .map(str::trim)
            .map(|h| match h.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => h,
            })
            .filter(|t| !t.is_empty() && !t.contains(' '))
            .ok_or(AuthError::Missing)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.key),
            &validation,
        )
        .map_err(|e| AuthError::Invalid(e.to_string()))?;
        match data.claims.get("iat") {
            None => {}
            Some(iat) => match iat.as_f64() {
                Some(iat) if iat <= unix_now() as f64 => {}
                Some(_) => return Err(AuthError::Invalid("issued in the future (iat)".into())),
                None => return Err(AuthError::Invalid("iat is not a NumericDate".into())),
            },
        }
        let claims: Map<String, Value> = data
            .claims
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, Value::String(claim_text(&v))))
            .collect();
        Ok(Value::Object(claims))
    }

    /// A token for `user` in `groups` (the `cognito:groups` claim, as Cognito issues it).
    pub fn token_in_groups(&self, user: &str, hours: u64, groups: &[String]) -> String {
        self.sign(&json!({
            "sub": user, "iss": ISSUER, "aud": AUDIENCE, "iat": unix_now(),
            "exp": unix_now() + hours * 3600, "cognito:groups": groups,
        }))
    }

    /// A token with exactly these claims, signed with the local key: for tests that present
    /// tokens an identity provider should never issue.
    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.key),
        )
        .unwrap_or_default()
    }
}

/// A claim as the HTTP API's JWT authorizer renders it into the event: strings as they are,
/// arrays as `[a b]`, anything else as its JSON text.
fn claim_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_text).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_key_only_and_survive_a_reload() {
        let dir = std::env::temp_dir().join(format!("todo-local-auth-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let auth = LocalAuthorizer::load_or_create(&dir).unwrap();
        let token = auth.token("alice", 1);
        let claims = auth.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert!(claims["exp"].is_string(), "claims arrive as strings");
        let reloaded = LocalAuthorizer::load_or_create(&dir).unwrap();
        assert!(reloaded.verify(Some(&format!("Bearer {token}"))).is_ok());

        assert_eq!(auth.verify(None), Err(AuthError::Missing));
        assert_eq!(auth.verify(Some("Basic abc")), Err(AuthError::Missing));
        assert!(matches!(
            auth.verify(Some("Bearer not.a.jwt")),
            Err(AuthError::Invalid(_))
        ));
        let other = LocalAuthorizer {
            key: b"another-key-another-key-another-key".to_vec(),
        };
        assert!(matches!(
            auth.verify(Some(&format!("Bearer {}", other.token("alice", 1)))),
            Err(AuthError::Invalid(_))
        ));
        let expired = auth.token_until("alice", unix_now() - 10);
        assert!(
            matches!(
                auth.verify(Some(&format!("Bearer {expired}"))),
                Err(AuthError::Invalid(_))
            ),
            "expired tokens are refused"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn checks_what_the_http_api_jwt_authorizer_checks() {
        let auth = LocalAuthorizer {
            key: b"a-local-key-a-local-key-a-local-key".to_vec(),
        };
        let now = unix_now();
        let good =
            json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60});
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = good.clone();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        let token = auth.sign(&good);
        for header in [
            format!("Bearer {token}"),
            format!("BEARER {token}"),
            format!("bearer  {token}"),
            token.clone(),
        ] {
            assert_eq!(
                auth.verify(Some(&header)).map(|c| c["sub"].clone()),
                Ok(json!("alice")),
                "{header}"
            );
        }
        assert!(
            auth.verify(Some("Bearer")).is_err(),
            "a scheme without a token"
        );
        assert_eq!(auth.verify(Some("Basic a b")), Err(AuthError::Missing));
        for (why, claims) in [
            ("no iss", without("iss")),
            ("other iss", with("iss", json!("someone-else"))),
            ("no aud", without("aud")),
            ("other aud", with("aud", json!("other"))),
            ("no exp", without("exp")),
            ("expired", with("exp", json!(now - 1))),
            ("not yet valid", with("nbf", json!(now + 60))),
            ("issued in the future", with("iat", json!(now + 60))),
            ("iat as text", with("iat", json!((now + 60).to_string()))),
            ("iat as an object", with("iat", json!({"a": 1}))),
        ] {
            assert!(
                matches!(
                    auth.verify(Some(&auth.sign(&claims))),
                    Err(AuthError::Invalid(_))
                ),
                "{why}"
            );
        }
        let claims = auth
            .verify(Some(&auth.sign(&with("sub", Value::Null))))
            .unwrap();
        assert!(claims.get("sub").is_none(), "a null sub is no subject");
        let claims = auth
            .verify(Some(
                &auth.sign(&with("cognito:groups", json!(["admin", "ops"]))),
            ))
            .unwrap();
        assert_eq!(
            claims["cognito:groups"], "[admin ops]",
            "as API Gateway passes arrays"
        );
    }
}
