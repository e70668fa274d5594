//! Signed webhook deliveries.
//!
//! Each delivery is a `POST` of the notification JSON with three headers:
//!
//! | header | value |
//! |---|---|
//! | `X-Todo-Delivery` | the notification id; the same on a redelivery, so receivers can deduplicate |
//! | `X-Todo-Timestamp` | Unix seconds when it was sent |
//! | `X-Todo-Signature` | `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` |
//!
//! A receiver recomputes the HMAC over the timestamp header, a `.`, and the raw body bytes,
//! compares it in constant time, and rejects timestamps too far from its clock (replays).
//! [`verify`] does all three.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the delivery id.
pub const DELIVERY_HEADER: &str = "x-todo-delivery";
/// Header carrying the send time.
pub const TIMESTAMP_HEADER: &str = "x-todo-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-todo-signature";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Todo-Signature` value for a body sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("v1={}", hex::encode(digest))
}

/// Why a delivery was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("malformed signature header")]
    Malformed,
    #[error("timestamp outside the accepted window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Checks a delivery: the signature over `timestamp.body` and the timestamp within
/// `tolerance_seconds` of `now`.
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let hex = signature
        .strip_prefix("v1=")
        .ok_or(VerifyError::Malformed)?;
    if hex.len() % 2 != 0 {
        return Err(VerifyError::Malformed);
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| VerifyError::Malformed)?;
    if (now - timestamp).abs() > tolerance_seconds {
        return Err(VerifyError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&bytes)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let sig = sign(b"secret", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        /// What is verified against `sig` (secret, timestamp, body, now), and the verdict.
        type Case = (
            &'static [u8],
            i64,
            &'static [u8],
            i64,
            Result<(), VerifyError>,
        );
        let cases: [Case; 5] = [
            (
                b"secret",
                1_700_000_000,
                b"{\"a\":1}",
                1_700_000_010,
                Ok(()),
            ),
            (
                b"secret",
                1_700_000_000,
                b"{\"a\":2}",
                1_700_000_010,
                Err(VerifyError::Mismatch),
            ),
            (
                b"other",
                1_700_000_000,
                b"{\"a\":1}",
                1_700_000_010,
                Err(VerifyError::Mismatch),
            ),
            (
                b"secret",
                1_700_000_001,
                b"{\"a\":1}",
                1_700_000_010,
                Err(VerifyError::Mismatch),
            ),
            (
                b"secret",
                1_700_000_000,
                b"{\"a\":1}",
                1_700_009_999,
                Err(VerifyError::Stale),
            ),
        ];
        for (secret, timestamp, body, now, verdict) in cases {
            assert_eq!(verify(secret, timestamp, body, &sig, now, 300), verdict);
        }
        assert_eq!(
            verify(b"secret", 1, b"", "sha1=ab", 1, 300),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify(b"secret", 1, b"", "v1=zz", 1, 300),
            Err(VerifyError::Malformed)
        );
    }
}
