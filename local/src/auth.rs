//! The JWT authorizer emulation: tokens signed (HS256) with a key kept in the data folder, so
//! they stay valid across restarts. A request with a valid bearer token reaches its function with
//! the token's claims in `requestContext.authorizer.jwt.claims` (each as a string, as API Gateway
//! passes them); any other request gets 401 and invokes nothing.

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
        let claims =
            json!({"sub": user, "iss": ISSUER, "aud": AUDIENCE, "iat": unix_now(), "exp": exp});
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )
        .unwrap_or_default()
    }

    /// The claims of the request's bearer token, each rendered as a string.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Value, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.key),
            &validation,
        )
        .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims: Map<String, Value> = data
            .claims
            .into_iter()
            .map(|(k, v)| {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                (k, Value::String(text))
            })
            .collect();
        Ok(Value::Object(claims))
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
}
