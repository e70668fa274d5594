//! Opaque paging cursors: a query's start key, bound to the caller and the query, signed with
//! HMAC-SHA256. A tampered cursor, or one from another query or user, is refused with 400.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use todo_schema::Problem;

type HmacSha256 = Hmac<Sha256>;

/// Where a page starts: the string attributes of the last key the previous page read.
pub type StartKey = HashMap<String, String>;

/// One page as a store reads it: the items and, unless it is the last, where the next page
/// starts (a table's key, or a richer position such as a search's day and key).
#[derive(Clone, Debug, PartialEq)]
pub struct Paged<T, K = StartKey> {
    pub items: Vec<T>,
    pub next: Option<K>,
}

/// What a cursor is bound to: a route, the caller and every query parameter but the page size,
/// as an explicit, versioned encoding. Each part is length-prefixed, so no value (a subject with
/// a newline, a search text with a separator) can make two different queries share a scope.
/// Bump the version when a route's parameters change meaning: older cursors then fail cleanly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// The scope of `route` (e.g. `tasks`) at encoding `version`.
    pub fn new(route: &str, version: u32) -> Self {
        let mut s = Self(String::new());
        s.push(route);
        s.push(&version.to_string());
        s
    }

    /// Adds one part.
    pub fn part(mut self, value: impl std::fmt::Display) -> Self {
        self.push(&value.to_string());
        self
    }

    fn push(&mut self, value: &str) {
        self.0.push_str(&value.len().to_string());
        self.0.push(':');
        self.0.push_str(value);
    }

    /// The encoding, as signed into cursors.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Signs and checks cursors with one key.
///
/// The key is the secret `CURSOR_SIGNING_KEY_SECRET_ARN` names, read from Secrets Manager the
/// first time a request needs it: to open a cursor it was sent, or to seal one for a next page.
/// A function never reads it while starting (a GetSecretValue costs every cold start tens of
/// milliseconds in AWS), and a request that sends no cursor and gets back a single page never
/// reads it at all.
#[derive(Clone)]
pub struct CursorCodec {
    key: std::sync::Arc<tokio::sync::OnceCell<Vec<u8>>>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(<key>)")
    }
}

#[derive(Serialize, Deserialize)]
struct Payload<T> {
    /// What the cursor is bound to: the caller and the query, minus the page size.
    scope: String,
    key: T,
}

impl CursorCodec {
    /// A codec over a secret key (the cursor signing key secret).
    pub fn new(key: Vec<u8>) -> Self {
        Self {
            key: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(key))),
        }
    }

    /// The process's codec, keyed by the secret `CURSOR_SIGNING_KEY_SECRET_ARN` names, read
    /// when first needed. Starting checks only that the variable is set.
    pub fn from_secret() -> Result<Self, crate::config::ConfigError> {
        crate::config::required(crate::config::CURSOR_SIGNING_KEY_SECRET_ARN)?;
        Ok(Self {
            key: std::sync::Arc::default(),
        })
    }

    /// The key, read from Secrets Manager by the first request that needs it (503 while
    /// Secrets Manager cannot answer: the next request tries again).
    async fn key(&self) -> Result<&[u8], Problem> {
        self.key
            .get_or_try_init(crate::config::cursor_signing_key)
            .await
            .map(Vec::as_slice)
            .map_err(|e| {
                tracing::error!(error = %e, "cursor signing key not read");
                Problem::service_unavailable("paging is unavailable for a moment; retry")
            })
    }

    fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(data);
        mac
    }

    /// Where a page within `scope` starts: the cursor's key, or the beginning without one.
    pub async fn start(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<Option<StartKey>, Problem> {
        match cursor {
            Some(c) => Ok(Some(self.decode(scope.as_str(), c).await?)),
            None => Ok(None),
        }
    }

    /// A cursor for `key` within `scope`.
    pub async fn encode(&self, scope: &str, key: StartKey) -> Result<String, Problem> {
        self.seal(scope, &key).await
    }

    /// The start key in a cursor issued for `scope`.
    pub async fn decode(&self, scope: &str, cursor: &str) -> Result<StartKey, Problem> {
        self.open(scope, cursor).await
    }

    /// Any state as an opaque token bound to `scope` (a sync token's position, for one).
    pub async fn seal<T: Serialize>(&self, scope: &str, key: &T) -> Result<String, Problem> {
        let payload = serde_json::to_vec(&Payload {
            scope: scope.to_string(),
            key,
        })
        .unwrap_or_default();
        let tag = Self::mac(self.key().await?, &payload)
            .finalize()
            .into_bytes();
        Ok(format!("{}.{}", B64.encode(&payload), B64.encode(tag)))
    }

    /// The state in a token sealed for `scope`; 400 for a tampered, foreign or malformed one.
    pub async fn open<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, Problem> {
        let invalid = || Problem::bad_request("the cursor is invalid for this query");
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = B64.decode(payload).map_err(|_| invalid())?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        Self::mac(self.key().await?, &payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        let payload: Payload<T> = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.scope != scope {
            return Err(invalid());
        }
        Ok(payload.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_unambiguous() {
        let a = Scope::new("tasks", 1).part("u\n1").part("x");
        let b = Scope::new("tasks", 1).part("u").part("1\nx");
        assert_ne!(a, b);
        assert_ne!(Scope::new("tasks", 1), Scope::new("tasks", 2));
        assert_eq!(Scope::new("tasks", 1).part("u").as_str(), "5:tasks1:11:u");
    }

    fn codec() -> CursorCodec {
        CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    fn key() -> StartKey {
        StartKey::from([("pk".to_string(), "USER#a".to_string())])
    }

    #[tokio::test]
    async fn round_trips_within_its_scope() {
        let c = codec().encode("scope", key()).await.unwrap();
        assert_eq!(codec().decode("scope", &c).await.unwrap(), key());
    }

    #[tokio::test]
    async fn refuses_tampering_other_scopes_and_other_keys() {
        let c = codec().encode("scope", key()).await.unwrap();
        assert_eq!(codec().decode("other", &c).await.unwrap_err().status, 400);
        let mut bytes = c.clone().into_bytes();
        bytes[3] ^= 1;
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            codec().decode("scope", &tampered).await.unwrap_err().status,
            400
        );
        let other = CursorCodec::new(b"another key that is long enough!!".to_vec());
        assert!(other.decode("scope", &c).await.is_err());
        for junk in ["", ".", "abc", "a.b", "%%%.%%%"] {
            assert!(codec().decode("scope", junk).await.is_err(), "{junk}");
        }
    }

    #[tokio::test]
    async fn the_key_is_read_only_when_a_cursor_is_opened_or_sealed() {
        // No secret is configured here: reading the key fails, as when Secrets Manager is down.
        let unread = CursorCodec {
            key: std::sync::Arc::default(),
        };
        let scope = Scope::new("tasks", 1);
        assert_eq!(unread.start(&scope, None).await.unwrap(), None);
        assert_eq!(unread.encode("scope", key()).await.unwrap_err().status, 503);
        let c = codec().encode("scope", key()).await.unwrap();
        assert_eq!(unread.decode("scope", &c).await.unwrap_err().status, 503);
        // A malformed cursor is the caller's mistake whether or not the key can be read.
        assert_eq!(unread.decode("scope", "abc").await.unwrap_err().status, 400);
    }
}
