//! What an HTTP delivery's answer means for its retry, the same for every channel that POSTs
//! (the webhook, Web Push): a 2xx is delivered; no answer, a 408 or a 5xx is transient; a 429
//! or 503 with a `Retry-After` is transient not before then; any other answer (a 4xx, a 3xx:
//! redirects are not followed) is final. A channel may read an answer first itself (Web
//! Push's 404/410: the subscription is gone).

use std::time::Duration;

use super::delivery::SendError;

/// The outcome of an answered delivery to `far_end` ("webhook", "push service").
pub fn answered(
    far_end: &str,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Result<(), SendError> {
    let answer = format!("{far_end} answered {status}");
    match status.as_u16() {
        200..=299 => Ok(()),
        429 | 503 => match retry_after(headers) {
            Some(after) => Err(SendError::Later(answer, after)),
            None => Err(SendError::Transient(answer)),
        },
        408 | 500..=599 => Err(SendError::Transient(answer)),
        _ => Err(SendError::Permanent(answer)),
    }
}

/// The outcome of a delivery to `far_end` that got no answer (within `timeout`, or at all).
pub fn unanswered(far_end: &str, timeout: Duration, error: reqwest::Error) -> SendError {
    SendError::Transient(if error.is_timeout() {
        format!("{far_end} did not answer within {} s", timeout.as_secs())
    } else {
        format!("{far_end} unreachable: {error}")
    })
}

/// A `Retry-After` in seconds (RFC 9110 also allows an HTTP date; a far end that sends one
/// gets the channel's own backoff), at most an hour.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(3_600)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("retry-after", retry_after.parse().unwrap());
        h
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_bounded() {
        assert_eq!(retry_after(&headers("30")), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after(&headers("999999")),
            Some(Duration::from_secs(3_600))
        );
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(retry_after(&headers("-5")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn answers_are_delivered_retried_or_final() {
        let none = HeaderMap::new();
        assert_eq!(answered("x", StatusCode::CREATED, &none), Ok(()));
        assert!(matches!(
            answered("x", StatusCode::TOO_MANY_REQUESTS, &headers("7")),
            Err(SendError::Later(_, d)) if d == Duration::from_secs(7)
        ));
        for transient in [408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(transient).unwrap();
            assert!(
                matches!(answered("x", status, &none), Err(SendError::Transient(_))),
                "{transient}"
            );
        }
        for final_ in [301, 302, 400, 401, 403, 404, 410, 413] {
            let status = StatusCode::from_u16(final_).unwrap();
            assert!(
                matches!(answered("x", status, &none), Err(SendError::Permanent(_))),
                "{final_}"
            );
        }
    }
}
