//! A Web Push service and browser in one, on 127.0.0.1: the push channel's far end in the
//! local cloud. It issues subscriptions whose private keys it holds, as a browser's
//! `pushManager.subscribe()` would, and accepts deliveries to them as a push service does:
//! the VAPID signature is checked (RFC 8292: an ES256 JWT whose audience is this origin,
//! expiring within 24 hours, signed by the key in `k`, and that key the subscription's
//! `applicationServerKey` when one was given) and the body decrypted (RFC 8291, `aes128gcm`),
//! so a test that reads a message here proves the encryption right.
//!
//! - `POST /subscriptions` (body optional: `{"applicationServerKey": "<base64url>"}`): a new
//!   subscription, answered as `PushSubscription.toJSON()` (`endpoint`, `expirationTime`,
//!   `keys.p256dh`, `keys.auth`);
//! - `DELETE /subscriptions/{id}`: the device unsubscribed; later pushes to it get 410 Gone;
//! - `POST /push/{id}`: a delivery (201 Created);
//! - `GET /messages`: every decrypted delivery; `POST /control`: fail or slow on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};
use web_push_native::{Auth, p256};

use crate::far_end::{FarEnd, Log, routes};
use crate::loopback;

/// One delivery, decrypted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushMessage {
    pub subscription: String,
    /// The decrypted body, as JSON.
    pub payload: Value,
    pub urgency: Option<String>,
    pub ttl: Option<u64>,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

struct Device {
    secret: p256::SecretKey,
    auth: [u8; 16],
    application_server_key: Option<String>,
    gone: bool,
}

#[derive(Clone)]
struct Shared {
    origin: String,
    devices: Arc<Mutex<HashMap<String, Device>>>,
    received: Log<PushMessage>,
    far_end: FarEnd,
}

/// A running push service; it stops when dropped.
pub struct LocalPushService {
    shared: Shared,
    _server: loopback::Server,
}

impl LocalPushService {
    /// Listens on a free port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = loopback::bind().await?;
        let shared = Shared {
            origin: format!("http://{}", listener.local_addr()?),
            devices: Arc::default(),
            received: Log::default(),
            far_end: FarEnd::default(),
        };
        let app = Router::new()
            .route("/subscriptions", post(subscribe))
            .route("/subscriptions/{id}", delete(unsubscribe))
            .route("/push/{id}", post(push))
            .with_state(shared.clone())
            .merge(routes(shared.received.clone(), shared.far_end.clone()));
        Ok(Self {
            shared,
            _server: loopback::Server::start(listener, app),
        })
    }

    /// `http://127.0.0.1:<port>`: what `PushServiceHosts` must admit.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// What it received, as it grows (the console page reads it).
    pub fn received_log(&self) -> crate::far_end::Log<PushMessage> {
        self.shared.received.clone()
    }

    /// Every decrypted delivery so far.
    pub fn received(&self) -> Vec<PushMessage> {
        self.shared.received.all()
    }

    /// A device subscribing with `application_server_key`, as `POST /subscriptions` does (for
    /// tests and benchmarks in the same process).
    pub fn subscribe(&self, application_server_key: &str) -> Value {
        self.shared
            .new_device(Some(application_server_key.to_string()))
    }

    /// How later deliveries are answered.
    pub fn far_end(&self) -> &FarEnd {
        &self.shared.far_end
    }
}

async fn subscribe(State(shared): State<Shared>, body: axum::body::Bytes) -> Response {
    let application_server_key = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["applicationServerKey"].as_str().map(str::to_string));
    (
        StatusCode::CREATED,
        axum::Json(shared.new_device(application_server_key)),
    )
        .into_response()
}

impl Shared {
    /// A new subscription with keys this service holds, as `PushSubscription.toJSON()`.
    fn new_device(&self, application_server_key: Option<String>) -> Value {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let mut auth = [0u8; 16];
        p256::elliptic_curve::rand_core::RngCore::fill_bytes(
            &mut p256::elliptic_curve::rand_core::OsRng,
            &mut auth,
        );
        let public = {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            secret.public_key().to_encoded_point(false)
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let subscription = json!({
            "endpoint": format!("{}/push/{id}", self.origin),
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(auth),
            },
        });
        if let Ok(mut devices) = self.devices.lock() {
            devices.insert(
                id,
                Device {
                    secret,
                    auth,
                    application_server_key,
                    gone: false,
                },
            );
        }
        subscription
    }
}

async fn unsubscribe(State(shared): State<Shared>, Path(id): Path<String>) -> StatusCode {
    match shared
        .devices
        .lock()
        .ok()
        .and_then(|mut d| d.get_mut(&id).map(|device| device.gone = true))
    {
        Some(()) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

/// The `t` and `k` parameters of `Authorization: vapid t=..., k=...`.
fn vapid_parameters(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let rest = value.strip_prefix("vapid ")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => token = Some(v.to_string()),
            Some(("k", v)) => key = Some(v.to_string()),
            _ => {}
        }
    }
    Some((token?, key?))
}

/// The claims of a VAPID JWT this service checks; `aud` may be one string or a list.
#[derive(serde::Deserialize)]
struct VapidClaims {
    aud: Option<Value>,
    exp: Option<u64>,
    sub: Option<String>,
}

/// Why a delivery's VAPID signature is refused, if it is.
fn check_vapid(
    shared: &Shared,
    device: &Device,
    headers: &HeaderMap,
) -> Result<(), (StatusCode, String)> {
    let unauthorized = |why: &str| (StatusCode::UNAUTHORIZED, why.to_string());
    let (token, key) = vapid_parameters(headers)
        .ok_or_else(|| unauthorized("no vapid t=..., k=... authorization"))?;
    if device
        .application_server_key
        .as_ref()
        .is_some_and(|expected| *expected != key)
    {
        return Err((
            StatusCode::FORBIDDEN,
            "k is not the subscription's applicationServerKey".into(),
        ));
    }
    let public = URL_SAFE_NO_PAD
        .decode(&key)
        .ok()
        .filter(|k| p256::PublicKey::from_sec1_bytes(k).is_ok())
        .ok_or_else(|| unauthorized("k is not a P-256 public key"))?;
    // The signature only: the claims are checked below, each with its own answer.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<VapidClaims>(
        &token,
        &jsonwebtoken::DecodingKey::from_ec_der(&public),
        &validation,
    )
    .map_err(|e| unauthorized(&format!("the JWT does not verify: {e}")))?
    .claims;
    let audience_ok = match &claims.aud {
        Some(Value::String(one)) => *one == shared.origin,
        Some(Value::Array(many)) => many.iter().any(|a| *a == *shared.origin),
        _ => false,
    };
    if !audience_ok {
        return Err(unauthorized(&format!("aud must be {}", shared.origin)));
    }
    let now = chrono::Utc::now().timestamp() as u64;
    match claims.exp {
        Some(exp) if exp > now && exp <= now + 24 * 60 * 60 => {}
        _ => return Err(unauthorized("exp must lie within the next 24 hours")),
    }
    let subject = claims.sub.unwrap_or_default();
    if !(subject.starts_with("mailto:") || subject.starts_with("https:")) {
        return Err(unauthorized("sub must be a mailto: or https: contact"));
    }
    Ok(())
}

async fn push(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (status, delay) = shared.far_end.now();
    tokio::time::sleep(delay).await;
    if status != 200 {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, "todo-local control").into_response();
    }
    let outcome = {
        let Ok(devices) = shared.devices.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        match devices.get(&id) {
            None => Err((StatusCode::NOT_FOUND, "no such subscription".to_string())),
            Some(device) if device.gone => Err((StatusCode::GONE, "unsubscribed".to_string())),
            Some(device) => check_vapid(&shared, device, &headers).and_then(|()| {
                if headers
                    .get("content-encoding")
                    .and_then(|v| v.to_str().ok())
                    != Some("aes128gcm")
                {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "Content-Encoding must be aes128gcm".into(),
                    ));
                }
                web_push_native::decrypt(
                    body.to_vec(),
                    &device.secret,
                    Auth::from_slice(&device.auth),
                )
                .map_err(|e| (StatusCode::BAD_REQUEST, format!("does not decrypt: {e}")))
            }),
        }
    };
    let plaintext = match outcome {
        Ok(p) => p,
        Err((code, why)) => return (code, why).into_response(),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let message = PushMessage {
        subscription: id,
        payload: serde_json::from_slice(&plaintext)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plaintext).into())),
        urgency: header("urgency"),
        ttl: header("ttl").and_then(|t| t.parse().ok()),
        received_at: chrono::Utc::now(),
    };
    shared.received.push(message);
    StatusCode::CREATED.into_response()
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:4000";

    /// An application server's key: its PKCS#8 document and its public key, base64url.
    fn server_key() -> (Vec<u8>, String) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        (pkcs8.as_ref().to_vec(), public)
    }

    fn header(pkcs8: &[u8], key: &str, claims: Value) -> HeaderMap {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(pkcs8),
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            format!("vapid t={token}, k={key}").parse().unwrap(),
        );
        headers
    }

    fn check(
        headers: &HeaderMap,
        application_server_key: Option<&str>,
    ) -> Result<(), (StatusCode, String)> {
        let shared = Shared {
            origin: ORIGIN.into(),
            devices: Arc::default(),
            received: Log::default(),
            far_end: FarEnd::default(),
        };
        let device = Device {
            secret: p256::SecretKey::from_slice(&[7; 32]).unwrap(),
            auth: [0; 16],
            application_server_key: application_server_key.map(str::to_string),
            gone: false,
        };
        check_vapid(&shared, &device, headers)
    }

    fn claims(aud: Value, exp_in: i64, sub: &str) -> Value {
        json!({"aud": aud, "exp": chrono::Utc::now().timestamp() + exp_in, "sub": sub})
    }

    #[test]
    fn a_vapid_signature_by_rfc_8292_is_accepted_and_each_flaw_refused_saying_which() {
        let (pkcs8, key) = server_key();
        let good = claims(json!(ORIGIN), 3600, "mailto:ops@example.com");
        assert_eq!(check(&header(&pkcs8, &key, good.clone()), None), Ok(()));
        assert_eq!(
            check(&header(&pkcs8, &key, good.clone()), Some(&key)),
            Ok(())
        );
        let listed = claims(
            json!(["https://other.example", ORIGIN]),
            3600,
            "https://example.com",
        );
        assert_eq!(check(&header(&pkcs8, &key, listed), None), Ok(()));

        let refused = |headers: HeaderMap, expected: &str| {
            let (status, why) = check(&headers, None).unwrap_err();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
            assert!(why.contains(expected), "{why} should say {expected}");
        };
        refused(HeaderMap::new(), "no vapid");
        let other_aud = claims(json!("http://127.0.0.1:4001"), 3600, "mailto:a@b.c");
        refused(header(&pkcs8, &key, other_aud), "aud must be");
        refused(
            header(&pkcs8, &key, claims(json!(ORIGIN), -60, "mailto:a@b.c")),
            "exp",
        );
        let too_long = claims(json!(ORIGIN), 25 * 3600, "mailto:a@b.c");
        refused(header(&pkcs8, &key, too_long), "exp");
        refused(
            header(&pkcs8, &key, claims(json!(ORIGIN), 3600, "ops")),
            "sub must be",
        );
        let (_, someone_else) = server_key();
        refused(
            header(&pkcs8, &someone_else, good.clone()),
            "does not verify",
        );
        refused(
            header(&pkcs8, "not-a-key", good.clone()),
            "k is not a P-256",
        );

        let (_, subscribed_with) = server_key();
        let (status, _) = check(&header(&pkcs8, &key, good), Some(&subscribed_with)).unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
