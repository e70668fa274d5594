//! Web Push subscriptions (`POST /push-subscriptions`): what a browser's
//! `PushSubscription.toJSON()` gives (W3C Push API), checked before it is stored.
//!
//! The endpoint is where the push channel will POST, so it is a URL the server calls on a
//! user's behalf: only `https` endpoints on the push services the operator allows (by host
//! suffix, e.g. `fcm.googleapis.com`, `push.services.mozilla.com`, `notify.windows.com`,
//! `push.apple.com`) are accepted, never an arbitrary host (no server-side request forgery).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{FieldError, Timestamp};

/// The most push subscriptions (devices) one user may have.
pub const SUBSCRIPTIONS_MAX: usize = 10;
/// The longest endpoint accepted.
pub const ENDPOINT_MAX_LEN: usize = 2_048;

/// A subscription as the browser sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPushSubscription {
    pub endpoint: String,
    /// `expirationTime` (milliseconds since the epoch, or null): accepted, not used.
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<u64>,
    #[serde(deserialize_with = "crate::wire::object")]
    pub keys: PushKeys,
}

/// The subscription's keys (RFC 8291): the browser's P-256 public key and auth secret,
/// base64url without padding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    pub p256dh: String,
    pub auth: String,
}

/// A stored subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    /// Derived from the owner and the endpoint: subscribing one endpoint twice is one
    /// subscription (its keys replaced).
    pub id: Uuid,
    pub owner: String,
    pub endpoint: String,
    pub keys: PushKeys,
    pub created_at: Timestamp,
}

impl NewPushSubscription {
    /// Every reason this subscription cannot be stored, for endpoints on `allowed_hosts`
    /// (host suffixes; a `http://127.0.0.1` entry admits the local push service).
    pub fn problems(&self, allowed_hosts: &[String]) -> Vec<FieldError> {
        let mut out = Vec::new();
        if let Err(message) = check_endpoint(&self.endpoint, allowed_hosts) {
            out.push(FieldError::new("endpoint", "invalid", message));
        }
        if decoded_len(&self.keys.p256dh) != Some(65) || !self.keys.p256dh.starts_with('B') {
            out.push(FieldError::new(
                "keys.p256dh",
                "invalid",
                "an uncompressed P-256 public key (65 bytes), base64url",
            ));
        }
        if decoded_len(&self.keys.auth) != Some(16) {
            out.push(FieldError::new(
                "keys.auth",
                "invalid",
                "a 16-byte auth secret, base64url",
            ));
        }
        out
    }

    /// The subscription to store for `owner`.
    pub fn into_subscription(self, owner: &str, now: Timestamp) -> PushSubscription {
        PushSubscription {
            id: subscription_id(owner, &self.endpoint),
            owner: owner.to_string(),
            endpoint: self.endpoint,
            keys: self.keys,
            created_at: now,
        }
    }
}

/// The id of `owner`'s subscription at `endpoint`.
pub fn subscription_id(owner: &str, endpoint: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x5d6f_3c1e_9a7b_4e2f_8c0d_1b2a_3f4e_5d6c);
    Uuid::new_v5(&NAMESPACE, format!("{owner}\n{endpoint}").as_bytes())
}

fn decoded_len(text: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(text).ok().map(|b| b.len())
}

/// `https://<host on the list>/...`, or an allowed `http://` origin (the local cloud's).
fn check_endpoint(endpoint: &str, allowed: &[String]) -> Result<(), String> {
    if endpoint.len() > ENDPOINT_MAX_LEN || endpoint.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("at most {ENDPOINT_MAX_LEN} characters, no spaces"));
    }
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| "must be an absolute URL".to_string())?;
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err("must be an absolute URL".into());
    };
    // One device, one spelling: an endpoint the browser would never give (a dot segment, a
    // fragment, an empty query, an escaped character that needs none, a capital in the scheme
    // or host) would be a second subscription of the same device.
    let needless_escape = endpoint.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && u8::from_str_radix(&String::from_utf8_lossy(&w[1..]), 16)
                .is_ok_and(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    let dot_segment = uri.path().split('/').any(|s| s == "." || s == "..");
    if needless_escape
        || dot_segment
        || endpoint.contains('#')
        || uri.query() == Some("")
        || endpoint.ends_with('?')
        || !uri.authority().is_some_and(|a| {
            let a = a.as_str();
            !a.contains('@')
                && a == a.to_ascii_lowercase()
                && endpoint.starts_with(&format!("{scheme}://{a}"))
        })
    {
        return Err("not in the form a browser gives (dot segments, a fragment, an empty query, needless escapes, capitals)".into());
    }
    let host = host.to_ascii_lowercase();
    let origin = match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    let admitted = allowed.iter().any(|entry| {
        if entry.contains("://") {
            entry.trim_end_matches('/') == origin
        } else {
            scheme == "https"
                && uri.port_u16().is_none_or(|p| p == 443)
                && (host == *entry || host.ends_with(&format!(".{entry}")))
        }
    });
    if admitted {
        Ok(())
    } else {
        Err(format!(
            "not a push service this server delivers to (https on {})",
            allowed
                .iter()
                .filter(|e| !e.contains("://"))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        [
            "fcm.googleapis.com",
            "push.services.mozilla.com",
            "http://127.0.0.1:4000",
        ]
        .map(String::from)
        .to_vec()
    }

    fn subscription(endpoint: &str) -> NewPushSubscription {
        serde_json::from_value(serde_json::json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                "auth": "tBHItJI5svbpez7KI4CCXg"
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_browser_subscription_to_an_allowed_push_service_is_accepted() {
        let s = subscription("https://fcm.googleapis.com/fcm/send/abc:def");
        assert_eq!(s.problems(&allowed()), vec![]);
        let local = subscription("http://127.0.0.1:4000/push/1");
        assert_eq!(local.problems(&allowed()), vec![]);
        let moz = subscription("https://updates.push.services.mozilla.com/wpush/v2/x");
        assert_eq!(moz.problems(&allowed()), vec![]);
    }

    #[test]
    fn endpoints_elsewhere_are_refused() {
        for endpoint in [
            "http://fcm.googleapis.com/fcm/send/x",
            "https://fcm.googleapis.com:8443/x",
            "https://evilfcm.googleapis.com.attacker.net/x",
            "https://169.254.169.254/latest/meta-data",
            "https://internal.example/x",
            "http://127.0.0.1:4001/push/1",
            "http://127.0.0.1:4000/push/./1",
            "http://127.0.0.1:4000/x/../push/1",
            "http://127.0.0.1:4000/push/1#f",
            "http://127.0.0.1:4000/push/1?",
            "http://127.0.0.1:4000/push/%31",
            "HTTPS://fcm.googleapis.com/fcm/send/x",
            "https://FCM.googleapis.com/fcm/send/x",
            "/relative",
            "not a url",
            &format!("https://fcm.googleapis.com/{}", "x".repeat(2_100)),
        ] {
            let p = subscription(endpoint).problems(&allowed());
            assert_eq!(p.len(), 1, "{endpoint}");
            assert_eq!(p[0].field, "endpoint");
        }
    }

    #[test]
    fn keys_must_have_their_sizes() {
        let mut s = subscription("https://fcm.googleapis.com/x");
        s.keys.auth = "tBHItJI5svbpez7KI4CC".into();
        s.keys.p256dh = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4".into();
        let fields: Vec<String> = s
            .problems(&allowed())
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["keys.p256dh", "keys.auth"]);
        assert!(serde_json::from_value::<NewPushSubscription>(serde_json::json!({
            "endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "B", "auth": "a"}, "extra": 1
        }))
        .is_err());
    }

    #[test]
    fn one_endpoint_is_one_subscription_per_owner() {
        let a = subscription_id("alice", "https://fcm.googleapis.com/x");
        assert_eq!(a, subscription_id("alice", "https://fcm.googleapis.com/x"));
        assert_ne!(a, subscription_id("bob", "https://fcm.googleapis.com/x"));
        assert_ne!(a, subscription_id("alice", "https://fcm.googleapis.com/y"));
    }
}
