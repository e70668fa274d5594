//! The local identity provider and the HTTP API's JWT authorizer emulation.
//!
//! **The issuer.** Like an OIDC provider (Cognito, say), it signs tokens with an RSA key
//! (RS256: the HTTP API's JWT authorizer accepts only RSA-based algorithms) named by a `kid`,
//! and publishes its discovery document (`/.well-known/openid-configuration`) and key set
//! (`/.well-known/jwks.json`) at its issuer URL on 127.0.0.1. The key is kept in the data folder
//! (`oidc-signing-key.pem`) and the issuer URL in `oidc-issuer`, so tokens stay valid across
//! restarts on the same port, and `todo-local token` can mint one while the cloud runs.
//!
//! **The authorizer.** A request with a valid bearer token reaches its function with the
//! token's claims in `requestContext.authorizer.jwt.claims`, each as a string, as API Gateway
//! passes them; any other request gets 401 and invokes nothing. The checks are
//! `todo_lambda::jwt::verify` against the issuer's published key set: the very rules the
//! deployed WebSocket authorizer applies. An array claim is passed as API Gateway passes it:
//! its items in brackets, separated by spaces (`"cognito:groups": ["admin", "ops"]` arrives as
//! `[admin ops]`; measured on AWS, see floci-io/floci#2011).

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use todo_lambda::jwt::{JwtError, Rules, bearer, verify};

/// The audience of local tokens (the template's `JwtAudience` locally).
pub const AUDIENCE: &str = "todo-local";

fn unix_now() -> u64 {
    todo_schema::Timestamp::now().epoch_seconds().max(0) as u64
}

/// The local issuer: its key, its published key set, and the verification of its tokens.
pub struct LocalAuthorizer {
    issuer: String,
    kid: String,
    encoding: EncodingKey,
    jwks: JwkSet,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Why the issuer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the signing key in the data folder is unusable: {0}")]
    Key(String),
    #[error("no local issuer yet: start todo-local once (scripts/run) with this data folder")]
    NotStarted,
}

const KEY_FILE: &str = "oidc-signing-key.pem";
const ISSUER_FILE: &str = "oidc-issuer";

impl LocalAuthorizer {
    /// The issuer at `issuer` (its URL), with the key kept in `dir` (created on first use);
    /// the URL is recorded there for `todo-local token`.
    pub fn load_or_create(dir: &Path, issuer: &str) -> Result<Self, IssuerError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(KEY_FILE);
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(_) => {
                let pair = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|e| IssuerError::Key(e.to_string()))?;
                let der = pair.as_der().map_err(|e| IssuerError::Key(e.to_string()))?;
                let body = STANDARD.encode(der.as_ref());
                let lines: Vec<&str> = body
                    .as_bytes()
                    .chunks(64)
                    .map(|c| std::str::from_utf8(c).unwrap_or_default())
                    .collect();
                let pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    lines.join("\n")
                );
                std::fs::write(&path, &pem)?;
                pem
            }
        };
        std::fs::write(dir.join(ISSUER_FILE), issuer)?;
        Self::from_pem(&pem, issuer)
    }

    /// The issuer a running (or last run) cloud recorded in `dir`.
    pub fn recorded(dir: &Path) -> Result<Self, IssuerError> {
        let issuer =
            std::fs::read_to_string(dir.join(ISSUER_FILE)).map_err(|_| IssuerError::NotStarted)?;
        let pem =
            std::fs::read_to_string(dir.join(KEY_FILE)).map_err(|_| IssuerError::NotStarted)?;
        Self::from_pem(&pem, issuer.trim())
    }

    /// The issuer URL recorded in `dir`, if the cloud ran there.
    pub fn recorded_url(dir: &Path) -> Option<String> {
        std::fs::read_to_string(dir.join(ISSUER_FILE))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn from_pem(pem: &str, issuer: &str) -> Result<Self, IssuerError> {
        let key = |e: &dyn std::fmt::Display| IssuerError::Key(e.to_string());
        let der = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        let der = STANDARD.decode(der).map_err(|e| key(&e))?;
        let pair = KeyPair::from_pkcs8(&der).map_err(|e| key(&e))?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // The key's id: a digest of its modulus, so a new key is a new kid.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, n.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let jwks: JwkSet = serde_json::from_value(json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
        }]}))
        .map_err(|e| key(&e))?;
        Ok(Self {
            issuer: issuer.to_string(),
            kid,
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| key(&e))?,
            jwks,
        })
    }

    /// The issuer URL (the template's `JwtIssuer` locally).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The published key set.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The OIDC discovery document.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.issuer),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        })
    }

    /// A token for `user`, valid for `hours`.
    pub fn token(&self, user: &str, hours: u64) -> String {
        self.token_in_groups(user, hours, &[])
    }

    /// A token for `user` in `groups` (the `cognito:groups` claim, as Cognito issues it).
    pub fn token_in_groups(&self, user: &str, hours: u64, groups: &[String]) -> String {
        let mut claims = json!({
            "sub": user, "iss": self.issuer, "aud": AUDIENCE, "token_use": "id",
            "iat": unix_now(), "exp": unix_now() + hours * 3600,
        });
        if !groups.is_empty() {
            claims["cognito:groups"] = json!(groups);
        }
        self.sign(&claims)
    }

    /// A token with exactly these claims, signed with the issuer's key: for tests that
    /// present tokens an identity provider should never issue.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(Algorithm::RS256, claims)
    }

    /// [`Self::sign`] with another algorithm of the same RSA key (RS384, RS512): a signature
    /// the published key set, which declares RS256, does not vouch for.
    pub fn sign_with(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap_or_default()
    }

    /// The rules the HTTP API's authorizer is configured with locally.
    pub fn rules(&self) -> Rules {
        Rules {
            issuer: self.issuer.clone(),
            audiences: vec![AUDIENCE.to_string()],
        }
    }

    /// The claims of the request's bearer token, each rendered as API Gateway renders it.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Value, AuthError> {
        let token = authorization
            .ok_or(AuthError::Missing)
            .and_then(|h| bearer(h).map_err(|_| AuthError::Missing))?;
        let claims = verify(token, &self.jwks, &self.rules()).map_err(|e| match e {
            JwtError::Missing => AuthError::Missing,
            other => AuthError::Invalid(other.to_string()),
        })?;
        let rendered: Map<String, Value> = claims
            .into_iter()
            .map(|(k, v)| (k, Value::String(claim_text(&v))))
            .collect();
        Ok(Value::Object(rendered))
    }
}

/// Serves the issuer's discovery document and key set on `listener` until the process ends.
pub async fn serve_issuer(
    listener: tokio::net::TcpListener,
    issuer: std::sync::Arc<LocalAuthorizer>,
) {
    use axum::routing::get;
    let discovery = issuer.discovery();
    let jwks = serde_json::to_value(issuer.jwks()).unwrap_or_default();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/.well-known/jwks.json",
            get(move || async move { axum::Json(jwks) }),
        );
    let _ = axum::serve(listener, app).await;
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

    fn issuer(name: &str) -> (std::path::PathBuf, LocalAuthorizer) {
        let dir =
            std::env::temp_dir().join(format!("todo-local-auth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let auth = LocalAuthorizer::load_or_create(&dir, "http://127.0.0.1:1").unwrap();
        (dir, auth)
    }

    #[test]
    fn tokens_verify_with_their_key_only_and_survive_a_reload() {
        let (dir, auth) = issuer("reload");
        let token = auth.token("alice", 1);
        let claims = auth.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert!(claims["exp"].is_string(), "claims arrive as strings");
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            header.alg,
            Algorithm::RS256,
            "RSA, as the HTTP API authorizer requires"
        );
        let reloaded = LocalAuthorizer::recorded(&dir).unwrap();
        assert!(reloaded.verify(Some(&format!("Bearer {token}"))).is_ok());
        assert_eq!(
            reloaded.discovery()["jwks_uri"],
            "http://127.0.0.1:1/.well-known/jwks.json"
        );

        assert_eq!(auth.verify(None), Err(AuthError::Missing));
        assert_eq!(auth.verify(Some("Basic a b")), Err(AuthError::Missing));
        assert!(matches!(
            auth.verify(Some("Bearer not.a.jwt")),
            Err(AuthError::Invalid(_))
        ));
        let (other_dir, other) = issuer("other");
        assert!(
            matches!(
                auth.verify(Some(&format!("Bearer {}", other.token("alice", 1)))),
                Err(AuthError::Invalid(_))
            ),
            "another issuer's key (another kid) is refused"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other_dir);
    }

    #[test]
    fn checks_what_the_http_api_jwt_authorizer_checks() {
        let (dir, auth) = issuer("rules");
        let now = unix_now();
        let good = json!({"sub": "alice", "iss": auth.issuer(), "aud": AUDIENCE, "iat": now, "exp": now + 60});
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
        // Cognito access tokens carry client_id instead of aud.
        let access = with("client_id", json!(AUDIENCE));
        let access = {
            let mut c = access;
            c.as_object_mut().unwrap().remove("aud");
            c
        };
        assert!(
            auth.verify(Some(&auth.sign(&access))).is_ok(),
            "client_id without aud"
        );
        for (why, claims) in [
            ("no iss", without("iss")),
            ("other iss", with("iss", json!("someone-else"))),
            ("no aud", without("aud")),
            ("other aud", with("aud", json!("other"))),
            (
                "aud wrong, client_id right",
                with("client_id", json!(AUDIENCE)).tap_aud("other"),
            ),
            ("no exp", without("exp")),
            ("expired", with("exp", json!(now - 1))),
            ("not yet valid", with("nbf", json!(now + 60))),
            ("issued in the future", with("iat", json!(now + 60))),
            ("iat as text", with("iat", json!((now + 60).to_string()))),
            ("iat as an object", with("iat", json!({"a": 1}))),
            // A subject that is not a string would reach the function as the string of its
            // JSON: 12345 as "12345", the owner whose subject is that string.
            ("sub as a number", with("sub", json!(12345))),
            ("sub as a boolean", with("sub", json!(true))),
            ("sub as an array", with("sub", json!(["alice"]))),
            ("sub as an object", with("sub", json!({"id": "alice"}))),
        ] {
            assert!(
                matches!(
                    auth.verify(Some(&auth.sign(&claims))),
                    Err(AuthError::Invalid(_))
                ),
                "{why}"
            );
        }
        // Not RSA (an HS256 token, however its claims look), or without a kid: refused.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good,
            &EncodingKey::from_secret(b"a-shared-secret-a-shared-secret!"),
        )
        .unwrap();
        assert!(matches!(auth.verify(Some(&hs)), Err(AuthError::Invalid(_))));
        let no_kid =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &good, &auth.encoding).unwrap();
        assert!(matches!(
            auth.verify(Some(&no_kid)),
            Err(AuthError::Invalid(_))
        ));

        // The same key with another RSA algorithm than the RS256 its JWK declares: refused.
        // A key that declares none verifies any of them.
        for alg in [Algorithm::RS384, Algorithm::RS512] {
            let token = auth.sign_with(alg, &good);
            assert!(
                matches!(auth.verify(Some(&token)), Err(AuthError::Invalid(_))),
                "{alg:?}"
            );
            let mut undeclared = auth.jwks.clone();
            undeclared.keys[0].common.key_algorithm = None;
            assert!(
                verify(&token, &undeclared, &auth.rules()).is_ok(),
                "{alg:?}"
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
        let _ = std::fs::remove_dir_all(&dir);
    }

    trait TapAud {
        fn tap_aud(self, aud: &str) -> Value;
    }

    impl TapAud for Value {
        fn tap_aud(mut self, aud: &str) -> Value {
            self["aud"] = json!(aud);
            self
        }
    }
}
