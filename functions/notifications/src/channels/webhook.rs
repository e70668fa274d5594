//! The webhook channel: a signed POST per reminder to the operator's webhook (see
//! `todo_schema::webhook` for the headers and how to verify).
//!
//! A 2xx is delivered; a 408, 429 or 5xx, a timeout or no answer is transient (retried by the
//! mapping, after the channel's backoff or the receiver's `Retry-After`); any other answer (a
//! 4xx, a 3xx: redirects are not followed, the URL is the operator's to fix) is a refusal
//! recorded as failed and never retried.

use std::time::Duration;

use todo_schema::notification::{Channel, Notification};
use todo_schema::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

use todo_lambda::table::TableError;

use super::delivery::{Destinations, SendError, Sender};
use super::http_delivery;

/// A webhook gets this long to answer; the function's own timeout must not be spent waiting.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The destination recorded for the operator-wide webhook (its URL may carry a token, so it
/// is never shown).
pub const OPERATOR: &str = "operator";

/// The operator's webhook: `WEBHOOK_URL`, signed with the secret `WEBHOOK_SECRET_ARN` names.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

impl Webhook {
    /// A webhook client with a short timeout.
    pub fn new(url: String, secret: Vec<u8>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            url,
            secret,
        })
    }
}

impl Sender for Webhook {
    const CHANNEL: Channel = Channel::Webhook;
    const NAME: &'static str = "channel-webhook";

    /// The operator's integration, not a person: no quiet hours.
    async fn destinations(&self, _: &Notification) -> Result<Destinations, TableError> {
        Ok(Destinations::always(vec![OPERATOR.to_string()]))
    }

    async fn send(&self, n: &Notification, _: &str) -> Result<(), SendError> {
        let body = serde_json::to_vec(n).map_err(|e| SendError::Permanent(e.to_string()))?;
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
            .map_err(|e| http_delivery::unanswered("webhook", TIMEOUT, e))?;
        http_delivery::answered("webhook", response.status(), response.headers())
    }
}
