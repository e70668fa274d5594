//! How a channel's far end in the local cloud (the webhook receiver, the SES endpoint, the push
//! service) answers: normally, or failing or slow on demand, for tests and demos
//! (`POST <far end>/control`); and what it received, for them to read (`GET <far end>/messages`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::{get, post};
use serde::Serialize;

/// Everything a far end received, in arrival order; clones share it.
#[derive(Debug)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Clone> Log<T> {
    /// Keeps one more.
    pub fn push(&self, item: T) {
        if let Ok(mut all) = self.0.lock() {
            all.push(item);
        }
    }

    /// Everything kept so far.
    pub fn all(&self) -> Vec<T> {
        self.0.lock().map(|all| all.clone()).unwrap_or_default()
    }
}

/// The routes every axum far end serves besides its own: `GET /messages`, everything in
/// `received` as JSON, and `POST /control`, which sets how `far_end` answers
/// ([`FarEnd::control_response`]).
pub fn routes<T>(received: Log<T>, far_end: FarEnd) -> Router
where
    T: Clone + Serialize + Send + 'static,
{
    Router::new()
        .route(
            "/messages",
            get(move || std::future::ready(axum::Json(received.all()))),
        )
        .route(
            "/control",
            post(move |Query(query): Query<Vec<(String, String)>>| {
                std::future::ready(far_end.control_response(&query))
            }),
        )
}

/// The answer a far end gives its next requests; clones share it.
#[derive(Clone, Debug)]
pub struct FarEnd {
    status: Arc<Mutex<u16>>,
    delay: Arc<Mutex<Duration>>,
}

impl Default for FarEnd {
    fn default() -> Self {
        Self {
            status: Arc::new(Mutex::new(200)),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
        }
    }
}

impl FarEnd {
    /// Answer later requests with this status (200: normally).
    pub fn answer(&self, status: u16) {
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
    }

    /// Answer later requests only after this long.
    pub fn delay(&self, delay: Duration) {
        if let Ok(mut d) = self.delay.lock() {
            *d = delay;
        }
    }

    /// The status and delay for a request arriving now.
    pub fn now(&self) -> (u16, Duration) {
        (
            self.status.lock().map(|s| *s).unwrap_or(200),
            self.delay.lock().map(|d| *d).unwrap_or_default(),
        )
    }

    /// Applies a control query (`status=503&delay_ms=2000`, either may be left out) and
    /// returns the settings now in force, or why the query is refused.
    pub fn control(&self, query: &str) -> Result<serde_json::Value, String> {
        let mut status = None;
        let mut delay = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (name, value.parse::<u64>().ok()) {
                ("status", Some(code @ 100..=599)) => status = Some(code as u16),
                ("delay_ms", Some(ms @ 0..=60_000)) => delay = Some(Duration::from_millis(ms)),
                _ => return Err(format!("{pair}: use status=100..599 and delay_ms=0..60000")),
            }
        }
        if let Some(s) = status {
            self.answer(s);
        }
        if let Some(d) = delay {
            self.delay(d);
        }
        let (status, delay) = self.now();
        Ok(serde_json::json!({"status": status, "delay_ms": delay.as_millis() as u64}))
    }
}

impl FarEnd {
    /// The answer to `POST /control?...` on an axum far end: the settings now in force, or a
    /// 400 saying why the query is refused.
    pub fn control_response(&self, query: &[(String, String)]) -> axum::response::Response {
        use axum::response::IntoResponse;
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match self.control(&query.join("&")) {
            Ok(now) => axum::Json(now).into_response(),
            Err(e) => (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({"error": e})),
            )
                .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sets_what_it_names_and_refuses_nonsense_whole() {
        let far = FarEnd::default();
        assert_eq!(far.now(), (200, Duration::ZERO));
        far.control("status=503").unwrap();
        assert_eq!(far.now(), (503, Duration::ZERO));
        far.control("delay_ms=250").unwrap();
        assert_eq!(far.now(), (503, Duration::from_millis(250)));
        for bad in [
            "status=99",
            "status=600",
            "delay_ms=-1",
            "delay_ms=60001",
            "colour=red",
            "status",
        ] {
            assert!(far.control(bad).is_err(), "{bad}");
        }
        assert!(far.control("status=200&delay_ms=x").is_err());
        assert_eq!(
            far.now(),
            (503, Duration::from_millis(250)),
            "a refused query changes nothing"
        );
    }
}
