//! The Web Push channel: each reminder to every device its owner subscribed, encrypted for the
//! device (RFC 8291, `aes128gcm`, by the web-push-native crate) and signed for the push service
//! (RFC 8292 VAPID), delivered by a POST to the subscription's endpoint (RFC 8030).
//!
//! A 201/200/202 is delivered. A 404 or 410 means the subscription is gone: it is removed and
//! the delivery recorded as failed. A 408, 429 or 5xx, a timeout or no answer is transient
//! (retried with the channel's backoff or the service's `Retry-After`); any other answer (a
//! 400, 403 or 413: a request the service will never take) is final.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use todo_schema::notification::{Channel, Notification};
use todo_schema::push::PushSubscription;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::{Auth, WebPushBuilder, p256};

use todo_lambda::table::TableError;

use super::delivery::{Destinations, SendError, Sender};
use super::http_delivery;
use crate::store::{PushSubscriptions, Settings};

/// A push service gets this long to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a push service may hold a reminder for an offline device (RFC 8030 `TTL`).
pub const TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// Why a push message could not be made. Each is permanent: a retry builds it from the same
/// key and subscription.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The stack's secret gives no valid P-256 key.
    #[error("VAPID key: {0}")]
    Key(String),
    /// The subscription cannot be sent to (its endpoint or keys are not what RFC 8291 needs).
    #[error("{0}")]
    Subscription(String),
    /// Encrypting the message or signing its VAPID token failed.
    #[error("{0}")]
    Signing(String),
}

/// The application server's VAPID key pair, derived from the stack's secret: the stack can
/// generate a random string but not an EC key, so the P-256 scalar is SHA-256 of the secret
/// (one in 2^128 secrets would give no valid scalar: refused, never silently replaced).
/// Signed with jsonwebtoken (ES256), the one JWT library of the workspace.
pub struct VapidKey {
    signing: jsonwebtoken::EncodingKey,
    /// The uncompressed SEC1 point (65 bytes).
    public: Vec<u8>,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey({})", vapid_public_key(self))
    }
}

pub fn vapid_key_pair(secret: &str) -> Result<VapidKey, PushError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use sha2::Digest;
    let scalar = sha2::Sha256::digest(format!("serverless-todo VAPID\n{secret}").as_bytes());
    let private =
        p256::SecretKey::from_slice(&scalar).map_err(|e| PushError::Key(e.to_string()))?;
    let public = private.public_key().to_encoded_point(false);
    let pkcs8 = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &scalar,
        public.as_bytes(),
    )
    .map_err(|e| PushError::Key(e.to_string()))?
    .to_pkcs8v1()
    .map_err(|e| PushError::Key(e.to_string()))?;
    Ok(VapidKey {
        signing: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
        public: public.as_bytes().to_vec(),
    })
}

/// The public key browsers subscribe with (`applicationServerKey`): uncompressed, base64url.
pub fn vapid_public_key(pair: &VapidKey) -> String {
    URL_SAFE_NO_PAD.encode(&pair.public)
}

/// The claims of a VAPID JWT (RFC 8292 section 2): issued now, valid from now for 12 hours.
#[derive(serde::Serialize)]
struct VapidClaims<'a> {
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// The RFC 8292 `Authorization` header for `endpoint`: a JWT whose audience is the endpoint's
/// origin (scheme, host and any port), valid for 12 hours, and the public key.
pub fn vapid_header(
    pair: &VapidKey,
    endpoint: &http::Uri,
    subject: &str,
) -> Result<String, PushError> {
    let (Some(scheme), Some(host)) = (endpoint.scheme_str(), endpoint.host()) else {
        return Err(PushError::Subscription(
            "the endpoint is not an absolute URL".into(),
        ));
    };
    let origin = match endpoint.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    let now = chrono::Utc::now().timestamp();
    let claims = VapidClaims {
        aud: &origin,
        sub: subject,
        iat: now,
        nbf: now,
        exp: now + 12 * 60 * 60,
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let token = jsonwebtoken::encode(&header, &claims, &pair.signing)
        .map_err(|e| PushError::Signing(format!("VAPID: {e}")))?;
    Ok(format!("vapid t={token}, k={}", vapid_public_key(pair)))
}

/// The push channel's sender.
pub struct Push<'a, S> {
    pub http: reqwest::Client,
    pub vapid: VapidKey,
    /// `VAPID_SUBJECT`: a `mailto:` or `https:` contact for push services.
    pub subject: String,
    pub store: &'a S,
}

impl<S: Settings + PushSubscriptions + Sync> Push<'_, S> {
    fn request(
        &self,
        s: &PushSubscription,
        body: Vec<u8>,
    ) -> Result<http::Request<Vec<u8>>, PushError> {
        let unusable = |why: String| PushError::Subscription(why);
        let endpoint: http::Uri = s
            .endpoint
            .parse()
            .map_err(|e| unusable(format!("endpoint: {e}")))?;
        let key = URL_SAFE_NO_PAD
            .decode(&s.keys.p256dh)
            .ok()
            .and_then(|k| p256::PublicKey::from_sec1_bytes(&k).ok())
            .ok_or_else(|| unusable("the subscription's p256dh is not a P-256 key".into()))?;
        let auth = URL_SAFE_NO_PAD
            .decode(&s.keys.auth)
            .ok()
            .filter(|a| a.len() == 16)
            .ok_or_else(|| unusable("the subscription's auth is not 16 bytes".into()))?;
        let mut request = WebPushBuilder::new(endpoint.clone(), key, *Auth::from_slice(&auth))
            .with_valid_duration(TTL)
            .build(body)
            .map_err(|e| PushError::Signing(format!("encrypting: {e}")))?;
        let authorization = vapid_header(&self.vapid, &endpoint, &self.subject)?;
        let headers = request.headers_mut();
        headers.insert(
            "authorization",
            authorization
                .parse()
                .map_err(|_| PushError::Signing("VAPID header".into()))?,
        );
        headers.insert("urgency", http::HeaderValue::from_static("high"));
        Ok(request)
    }
}

impl<S: Settings + PushSubscriptions + Sync> Sender for Push<'_, S> {
    const CHANNEL: Channel = Channel::Push;
    const NAME: &'static str = "channel-push";

    async fn destinations(&self, n: &Notification) -> Result<Destinations, TableError> {
        let settings = self.store.settings(&n.owner).await?;
        if !settings.push.enabled {
            return Ok(Destinations::default());
        }
        let subscriptions = self.store.subscriptions(&n.owner).await?;
        Ok(Destinations {
            to: subscriptions
                .into_iter()
                .map(|s| s.id.to_string())
                .collect(),
            quiet: settings.quiet_hours,
        })
    }

    async fn send(&self, n: &Notification, id: &str) -> Result<(), SendError> {
        let subscription = match id.parse() {
            Ok(id) => self
                .store
                .subscription(&n.owner, id)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?,
            Err(_) => None,
        };
        let Some(subscription) = subscription else {
            return Err(SendError::Permanent("the subscription was removed".into()));
        };
        let body = serde_json::to_vec(n).map_err(|e| SendError::Permanent(e.to_string()))?;
        let request = self
            .request(&subscription, body)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        let (parts, body) = request.into_parts();
        let response = self
            .http
            .post(parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| http_delivery::unanswered("push service", TIMEOUT, e))?;
        let status = response.status();
        if matches!(status.as_u16(), 404 | 410) {
            self.store
                .unsubscribe(&n.owner, subscription.id)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            return Err(SendError::Permanent(format!(
                "push service answered {status}: the subscription is gone and was removed"
            )));
        }
        http_delivery::answered("push service", status, response.headers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vapid_key_is_stable_for_a_secret_and_signs_for_the_endpoints_origin() {
        let a = vapid_key_pair("secret-one").unwrap();
        let again = vapid_key_pair("secret-one").unwrap();
        let b = vapid_key_pair("secret-two").unwrap();
        assert_eq!(vapid_public_key(&a), vapid_public_key(&again));
        assert_ne!(vapid_public_key(&a), vapid_public_key(&b));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(vapid_public_key(&a)).unwrap().len(),
            65
        );
        let header = vapid_header(
            &a,
            &"http://127.0.0.1:4000/push/1".parse().unwrap(),
            "mailto:ops@example.com",
        )
        .unwrap();
        let (token, key) = header
            .strip_prefix("vapid t=")
            .and_then(|r| r.split_once(", k="))
            .unwrap();
        assert_eq!(key, vapid_public_key(&a));
        let public = URL_SAFE_NO_PAD.decode(key).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["http://127.0.0.1:4000"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &jsonwebtoken::DecodingKey::from_ec_der(&public),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(
            claims["aud"], "http://127.0.0.1:4000",
            "the origin, port included (RFC 8292 section 2)"
        );
        assert_eq!(claims["sub"], "mailto:ops@example.com");
    }
}
