//! The signed webhook POST (see `todo_schema::webhook` for the headers and how to verify).

use std::future::Future;
use std::time::Duration;

use todo_schema::notification::Notification;
use todo_schema::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// A webhook gets this long to answer; the function's own timeout must not be spent waiting.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Where notifications are pushed.
pub trait Push {
    /// Whether there is anywhere to push to.
    fn enabled(&self) -> bool {
        true
    }

    /// Delivers one notification; an error means "try again later".
    fn push(&self, n: &Notification) -> impl Future<Output = Result<(), String>> + Send;
}

/// No webhook configured: nothing to push.
pub struct NoWebhook;

impl Push for NoWebhook {
    fn enabled(&self) -> bool {
        false
    }

    async fn push(&self, _: &Notification) -> Result<(), String> {
        Ok(())
    }
}

/// A configured webhook: `WEBHOOK_URL` and `WEBHOOK_SECRET`.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

impl Webhook {
    /// A webhook client with a short timeout.
    pub fn new(url: String, secret: Vec<u8>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Self {
            client,
            url,
            secret,
        })
    }
}

impl Push for Webhook {
    async fn push(&self, n: &Notification) -> Result<(), String> {
        let body = serde_json::to_vec(n).map_err(|e| e.to_string())?;
        let timestamp = todo_schema::Timestamp::now().epoch_seconds();
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header(DELIVERY_HEADER, n.id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&self.secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("webhook unreachable: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {}", response.status()))
        }
    }
}
