//! An Amazon SES (API v2) endpoint on 127.0.0.1 that accepts the SDK's `SendEmail` calls and
//! keeps every message: the e-mail channel's far end in the local cloud, reached through
//! `AWS_ENDPOINT_URL_SESV2`.
//!
//! `SendEmail` is `POST /v2/email/outbound-emails` with a JSON body (`FromEmailAddress`,
//! `Destination.ToAddresses`, `Content.Simple` with `Subject` and `Body.Text`/`Body.Html`,
//! optional `ConfigurationSetName`), answered `{"MessageId": ...}`; errors carry their type in
//! `x-amzn-errortype` (SES API v2 reference, "SendEmail"). Besides it:
//! - `GET /messages`: every accepted message as JSON;
//! - `POST /control?status=400|429|500|503&delay_ms=N`: later sends fail with SES's error for
//!   that status (400 `MessageRejected`, 429 `TooManyRequestsException`, 5xx
//!   `InternalFailure`) or answer late (see `far_end`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde_json::{Value, json};

use crate::far_end::{FarEnd, Log, routes};
use crate::iam::{Gate, Request};
use crate::loopback;
use crate::template::{ACCOUNT_ID, REGION};

/// One message as SES accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentEmail {
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub configuration_set: Option<String>,
    /// When SES accepted it, by the wall clock.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone)]
struct Shared {
    sent: Log<SentEmail>,
    far_end: FarEnd,
    gate: Gate,
}

/// A running SES endpoint; it stops when dropped.
pub struct LocalSes {
    url: String,
    shared: Shared,
    _server: loopback::Server,
}

impl LocalSes {
    /// Listens on a free port.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared {
            sent: Log::default(),
            far_end: FarEnd::default(),
            gate: Gate::default(),
        };
        let app = Router::new()
            .route("/v2/email/outbound-emails", post(send_email))
            .with_state(shared.clone())
            .merge(routes(shared.sent.clone(), shared.far_end.clone()));
        let listener = loopback::bind().await?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok(Self {
            url,
            shared,
            _server: loopback::Server::start(listener, app),
        })
    }

    /// The endpoint (`AWS_ENDPOINT_URL_SESV2`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every message accepted so far.
    pub fn sent(&self) -> Vec<SentEmail> {
        self.shared.sent.all()
    }

    /// How later sends are answered.
    pub fn far_end(&self) -> &FarEnd {
        &self.shared.far_end
    }

    /// Who may send: from now on each call is checked against the caller's role.
    pub fn gate(&self) -> &Gate {
        &self.shared.gate
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-errortype", kind.parse().expect("ASCII"));
    (status, headers, axum::Json(json!({"message": message}))).into_response()
}

/// What `SendEmail` asks of IAM: `ses:SendEmail` on the sending identity (the From address's
/// domain) and, when one is named, on the configuration set (SES API v2's resource types for
/// SendEmail, Service Authorization Reference).
fn send_email_requests(request: &Value) -> Vec<Request> {
    let arn = |kind: &str, name: &str| format!("arn:aws:ses:{REGION}:{ACCOUNT_ID}:{kind}/{name}");
    let from = request["FromEmailAddress"].as_str().unwrap_or_default();
    let identity = from
        .rsplit('@')
        .next()
        .unwrap_or(from)
        .trim_end_matches('>');
    let mut requests = vec![Request::new("ses:SendEmail", arn("identity", identity))];
    if let Some(set) = request["ConfigurationSetName"].as_str() {
        requests.push(Request::new("ses:SendEmail", arn("configuration-set", set)));
    }
    requests
}

async fn send_email(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Err(refusal) = shared
        .gate
        .check(authorization, &send_email_requests(&parsed))
    {
        return error(StatusCode::FORBIDDEN, refusal.kind(), &refusal.to_string());
    }
    let (status, delay) = shared.far_end.now();
    tokio::time::sleep(delay).await;
    match status {
        200..=299 => {}
        400 => {
            return error(
                StatusCode::BAD_REQUEST,
                "MessageRejected",
                "Email address is not verified.",
            );
        }
        429 => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Maximum sending rate exceeded.",
            );
        }
        other => {
            let code = StatusCode::from_u16(other).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(
                code,
                "InternalFailure",
                "The request failed (todo-local control).",
            );
        }
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "The body is not JSON.",
        );
    };
    let text = |pointer: &str| {
        request
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let to: Vec<String> = request
        .pointer("/Destination/ToAddresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let (Some(from), Some(subject)) = (
        text("/FromEmailAddress"),
        text("/Content/Simple/Subject/Data"),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "FromEmailAddress and Content.Simple.Subject are required.",
        );
    };
    let (body_text, body_html) = (
        text("/Content/Simple/Body/Text/Data"),
        text("/Content/Simple/Body/Html/Data"),
    );
    if to.is_empty() || (body_text.is_none() && body_html.is_none()) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "Destination.ToAddresses and a Text or Html body are required.",
        );
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    shared.sent.push(SentEmail {
        message_id: message_id.clone(),
        from,
        to,
        subject,
        text: body_text,
        html: body_html,
        configuration_set: text("/ConfigurationSetName"),
        received_at: chrono::Utc::now(),
    });
    axum::Json(json!({"MessageId": message_id})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_sends_get_ses_errors_and_store_nothing() {
        let ses = LocalSes::start().await.unwrap();
        let http = reqwest::Client::new();
        let send = |body: &'static str| {
            http.post(format!("{}/v2/email/outbound-emails", ses.url()))
                .body(body)
                .send()
        };
        let error_type = |r: &reqwest::Response| {
            r.headers()["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .to_string()
        };
        for body in [
            "not json",
            "{}",
            r#"{"FromEmailAddress": "a@b.co", "Content": {"Simple": {"Subject": {"Data": "s"}}}}"#,
        ] {
            let r = send(body).await.unwrap();
            assert_eq!(r.status(), 400, "{body}");
            assert_eq!(error_type(&r), "BadRequestException", "{body}");
        }
        ses.far_end().answer(400);
        let rejected = send(
            r#"{"FromEmailAddress": "a@b.co", "Destination": {"ToAddresses": ["c@d.co"]},
                "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}}"#,
        )
        .await
        .unwrap();
        assert_eq!(error_type(&rejected), "MessageRejected");
        assert_eq!(ses.sent(), vec![], "nothing refused is kept");
    }
}
