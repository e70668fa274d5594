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
//!   `InternalFailure`) or answer late (see `far_end`);
//! - `POST /control/recipient?address=A&outcome=bounce|complaint|deliver`: mail to `A` from now
//!   on bounces for good, draws a complaint, or is delivered (the default).
//!
//! Bounces and complaints are published as SES publishes them: to the SNS topic of each event
//! destination of the message's configuration set that matches the event type
//! (`AWS::SES::ConfigurationSetEventDestination` in the template), as an event-publishing record
//! (`eventType`, `mail` with the message's tags, `bounce` or `complaint`: "Contents of event data
//! that Amazon SES publishes to Amazon SNS"), a second after the send. Besides the addresses set
//! to, SES's mailbox simulator's answer as in AWS: `bounce@simulator.amazonses.com` bounces and
//! `complaint@simulator.amazonses.com` complains (with or without a `+label`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde_json::{Value, json};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::far_end::{FarEnd, Log, routes};
use crate::iam::{Gate, Request};
use crate::loopback;
use crate::sns::LocalSns;
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
    /// The message's tags (`EmailTags`), by name.
    pub tags: HashMap<String, String>,
    /// When SES accepted it, by the wall clock.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// What happens to mail to an address after SES accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Deliver,
    /// A permanent bounce (`bounceType` `Permanent`).
    Bounce,
    /// The recipient marks it as spam.
    Complaint,
}

impl Outcome {
    /// The event type a configuration set's `MatchingEventTypes` names.
    fn event_type(self) -> Option<&'static str> {
        match self {
            Outcome::Deliver => None,
            Outcome::Bounce => Some("bounce"),
            Outcome::Complaint => Some("complaint"),
        }
    }
}

/// Where a configuration set publishes which events (an SNS topic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDestination {
    pub configuration_set: String,
    /// Lowercase, as `MatchingEventTypes` names them (`bounce`, `complaint`).
    pub event_types: Vec<String>,
    pub topic_arn: String,
}

#[derive(Default)]
struct Feedback {
    outcomes: HashMap<String, Outcome>,
    destinations: Vec<EventDestination>,
    sns: Option<LocalSns>,
}

#[derive(Clone)]
struct Shared {
    sent: Log<SentEmail>,
    far_end: FarEnd,
    gate: Gate,
    feedback: Arc<Mutex<Feedback>>,
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
            feedback: Arc::default(),
        };
        let app = Router::new()
            .route("/v2/email/outbound-emails", post(send_email))
            .route("/control/recipient", post(control_recipient))
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

    /// What it received, as it grows (the console page reads it).
    pub fn sent_log(&self) -> crate::far_end::Log<SentEmail> {
        self.shared.sent.clone()
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

    /// What happens to mail to `address` from now on.
    pub fn set_outcome(&self, address: &str, outcome: Outcome) {
        if let Ok(mut f) = self.shared.feedback.lock() {
            f.outcomes.insert(address.to_ascii_lowercase(), outcome);
        }
    }

    /// Publishes bounces and complaints to these destinations' topics from now on.
    pub fn publish_events(&self, destinations: Vec<EventDestination>, sns: LocalSns) {
        if let Ok(mut f) = self.shared.feedback.lock() {
            f.destinations = destinations;
            f.sns = Some(sns);
        }
    }
}

/// What happens to mail to `address`: as set, else as SES's mailbox simulator answers.
fn outcome_of(outcomes: &HashMap<String, Outcome>, address: &str) -> Outcome {
    let address = address.to_ascii_lowercase();
    if let Some(o) = outcomes.get(&address) {
        return *o;
    }
    let Some((local, "simulator.amazonses.com")) = address.rsplit_once('@') else {
        return Outcome::Deliver;
    };
    match local.split('+').next() {
        Some("bounce") => Outcome::Bounce,
        Some("complaint") => Outcome::Complaint,
        _ => Outcome::Deliver,
    }
}

async fn control_recipient(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let outcome = match query.get("outcome").map(String::as_str) {
        Some("bounce") => Outcome::Bounce,
        Some("complaint") => Outcome::Complaint,
        Some("deliver") => Outcome::Deliver,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "outcome must be bounce, complaint or deliver\n",
            )
                .into_response();
        }
    };
    let Some(address) = query.get("address").filter(|a| a.contains('@')) else {
        return (
            StatusCode::BAD_REQUEST,
            "address must be an e-mail address\n",
        )
            .into_response();
    };
    if let Ok(mut f) = shared.feedback.lock() {
        f.outcomes.insert(address.to_ascii_lowercase(), outcome);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The event-publishing record SES sends for `outcome` of `email` to `address`.
pub fn event_record(email: &SentEmail, address: &str, outcome: Outcome) -> Option<Value> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let feedback_id = format!("{}-000000", uuid::Uuid::new_v4());
    let domain = email
        .from
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .trim_end_matches('>');
    let mut tags: serde_json::Map<String, Value> = email
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    if let Some(set) = &email.configuration_set {
        tags.insert("ses:configuration-set".into(), json!([set]));
    }
    tags.insert("ses:from-domain".into(), json!([domain]));
    tags.insert("ses:source-ip".into(), json!(["127.0.0.1"]));
    let mail = json!({
        "timestamp": email.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "source": email.from,
        "sourceArn": format!("arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{domain}"),
        "sendingAccountId": ACCOUNT_ID,
        "messageId": email.message_id,
        "destination": email.to,
        "headersTruncated": false,
        "headers": [
            {"name": "From", "value": email.from},
            {"name": "To", "value": email.to.join(", ")},
            {"name": "Subject", "value": email.subject},
        ],
        "commonHeaders": {"from": [email.from], "to": email.to, "messageId": email.message_id,
                          "subject": email.subject},
        "tags": tags,
    });
    Some(match outcome {
        Outcome::Deliver => return None,
        Outcome::Bounce => json!({
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": address, "action": "failed",
                    "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                "timestamp": now,
                "feedbackId": feedback_id,
                "reportingMTA": "dsn; todo-local",
            },
            "mail": mail,
        }),
        Outcome::Complaint => json!({
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": address}],
                "timestamp": now,
                "feedbackId": feedback_id,
                "userAgent": "todo-local",
                "complaintFeedbackType": "abuse",
                "arrivalDate": now,
            },
            "mail": mail,
        }),
    })
}

/// Publishes what becomes of `email` at each of its addresses, a second later, to the topics of
/// its configuration set's destinations that want that event type.
fn publish_feedback(shared: &Shared, email: &SentEmail) {
    let Ok(f) = shared.feedback.lock() else {
        return;
    };
    let Some(sns) = f.sns.clone() else {
        return;
    };
    let mut publications = Vec::new();
    for address in &email.to {
        let outcome = outcome_of(&f.outcomes, address);
        let (Some(kind), Some(set)) = (outcome.event_type(), &email.configuration_set) else {
            continue;
        };
        for d in f
            .destinations
            .iter()
            .filter(|d| &d.configuration_set == set && d.event_types.iter().any(|t| t == kind))
        {
            if let Some(record) = event_record(email, address, outcome) {
                publications.push((d.topic_arn.clone(), record.to_string()));
            }
        }
    }
    if publications.is_empty() {
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        for (topic, message) in publications {
            sns.publish(&topic, &message);
        }
    });
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
    let tags: HashMap<String, String> = request
        .pointer("/EmailTags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t["Name"].as_str()?.to_string(),
                t["Value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let message_id = uuid::Uuid::new_v4().to_string();
    let email = SentEmail {
        message_id: message_id.clone(),
        from,
        to,
        subject,
        text: body_text,
        html: body_html,
        configuration_set: text("/ConfigurationSetName"),
        tags,
        received_at: chrono::Utc::now(),
    };
    publish_feedback(&shared, &email);
    shared.sent.push(email);
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

    #[tokio::test]
    async fn a_bad_recipient_control_is_refused_and_changes_nothing() {
        let ses = LocalSes::start().await.unwrap();
        let http = reqwest::Client::new();
        let control = |query: &'static str| {
            http.post(format!("{}/control/recipient?{query}", ses.url()))
                .send()
        };
        for bad in [
            "",
            "address=a@b.co",
            "address=a@b.co&outcome=explode",
            "outcome=bounce",
            "address=nobody&outcome=bounce",
        ] {
            assert_eq!(control(bad).await.unwrap().status(), 400, "{bad}");
        }
        let outcomes = ses.shared.feedback.lock().unwrap().outcomes.clone();
        assert!(outcomes.is_empty(), "{outcomes:?}");
        let ok = control("address=A@B.co&outcome=complaint").await.unwrap();
        assert_eq!(ok.status(), 204);
        let outcomes = ses.shared.feedback.lock().unwrap().outcomes.clone();
        assert_eq!(outcome_of(&outcomes, "a@b.co"), Outcome::Complaint);
    }

    #[test]
    fn the_mailbox_simulators_addresses_and_the_set_ones_decide_the_outcome() {
        let mut set = HashMap::new();
        set.insert("gone@example.com".to_string(), Outcome::Bounce);
        for (address, outcome) in [
            ("bounce@simulator.amazonses.com", Outcome::Bounce),
            ("Bounce+label@simulator.amazonses.com", Outcome::Bounce),
            ("complaint@simulator.amazonses.com", Outcome::Complaint),
            ("success@simulator.amazonses.com", Outcome::Deliver),
            ("bounce@example.com", Outcome::Deliver),
            ("GONE@example.com", Outcome::Bounce),
        ] {
            assert_eq!(outcome_of(&set, address), outcome, "{address}");
        }
    }

    /// The local records have every field of SES's documented ones (events/sns/, from "Examples
    /// of event data that Amazon SES publishes to Amazon SNS").
    #[test]
    fn bounce_and_complaint_records_have_the_documented_fields() {
        let email = SentEmail {
            message_id: "m".into(),
            from: "todo@example.com".into(),
            to: vec!["a@b.co".into()],
            subject: "s".into(),
            text: Some("t".into()),
            html: None,
            configuration_set: Some("Set".into()),
            tags: HashMap::from([("todo-owner".to_string(), "YWxpY2U".to_string())]),
            received_at: chrono::Utc::now(),
        };
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        for (fixture, outcome, part) in [
            ("ses-bounce.json", Outcome::Bounce, "bounce"),
            ("ses-complaint.json", Outcome::Complaint, "complaint"),
        ] {
            let sns: Value = serde_json::from_str(
                &std::fs::read_to_string(format!(
                    "{}/../events/sns/{fixture}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap(),
            )
            .unwrap();
            let documented: Value =
                serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap())
                    .unwrap();
            let local = event_record(&email, "a@b.co", outcome).unwrap();
            assert_eq!(keys(&local), keys(&documented), "{fixture}");
            assert_eq!(keys(&local[part]), keys(&documented[part]), "{fixture}");
            assert_eq!(keys(&local["mail"]), keys(&documented["mail"]), "{fixture}");
            assert_eq!(local["mail"]["tags"]["todo-owner"], json!(["YWxpY2U"]));
            assert_eq!(
                local["mail"]["tags"]["ses:configuration-set"],
                json!(["Set"])
            );
        }
        assert_eq!(event_record(&email, "a@b.co", Outcome::Deliver), None);
    }
}
