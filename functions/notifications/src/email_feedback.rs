//! SES's bounce and complaint events, as the configuration set's SNS destination delivers them
//! (template.yaml: `EmailEventDestination` -> `EmailEventsTopic` -> `EmailFeedbackFunction`).
//!
//! A permanent ("hard") bounce or a complaint turns the owner's e-mail off, with the reason in
//! their settings (`email.stopped`), and marks that e-mail's delivery `failed` with
//! `bounced: ...` or `complained: ...`: an address that bounces is never sent to again (SES
//! pauses an account whose bounce or complaint rate stays high, for every user). A transient or
//! undetermined bounce changes nothing (SES retried it already; the next reminder tries again).
//!
//! The event's `mail.tags` carry the owner and the notification, as the e-mail channel tagged
//! them (`channels::email::tags`). The record format is SES's "event publishing" JSON (`eventType`;
//! an identity's feedback notifications say `notificationType` and carry no tags): see
//! <https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html>.
//!
//! Each record is applied on its own; a record that cannot be read is logged and counted
//! (`Unreadable`), never retried; a table failure fails the invocation, which Lambda retries
//! (twice, as for every asynchronous invocation) and then sends to the function's dead-letter
//! queue. Applying a record twice changes nothing more.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use todo_lambda::table::TableError;
use todo_schema::Timestamp;
use todo_schema::settings::{EmailStopped, StopReason};
use uuid::Uuid;

use crate::channels::email::tags;
use crate::store::EmailStops;

/// The function's name in its metrics.
pub const NAME: &str = "email-feedback";
/// The most of a receiving server's text kept as the reason's detail.
const DETAIL_MAX: usize = 300;

/// An SNS-triggered invocation's event (the fields this function reads; Lambda's "Using AWS
/// Lambda with Amazon SNS" shape, as `events/sns/ses-bounce.json`).
#[derive(Debug, Deserialize)]
pub struct SnsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SnsRecord>,
}

#[derive(Debug, Deserialize)]
pub struct SnsRecord {
    #[serde(rename = "Sns")]
    pub sns: SnsMessage,
}

#[derive(Debug, Deserialize)]
pub struct SnsMessage {
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// The SES event record, as JSON text.
    #[serde(rename = "Message")]
    pub message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
struct Mail {
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounced_recipients: Vec<BouncedRecipient>,
    timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BouncedRecipient {
    email_address: String,
    diagnostic_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<ComplainedRecipient>,
    timestamp: String,
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComplainedRecipient {
    email_address: String,
}

/// What one SES event asks of the store.
#[derive(Debug, PartialEq, Eq)]
pub enum Reading {
    /// Stop e-mail to each of these addresses (a hard bounce or a complaint).
    Stop(Feedback),
    /// Nothing to change, and why (a transient bounce, another event type).
    Ignore(String),
    /// Not an SES event this function can read, and why.
    Unreadable(String),
}

/// A hard bounce or a complaint about one e-mail.
#[derive(Debug, PartialEq, Eq)]
pub struct Feedback {
    /// The e-mail's owner, from its tag (absent: an e-mail this service did not tag).
    pub owner: Option<String>,
    /// The notification it carried, from its tag.
    pub notification: Option<Uuid>,
    /// One per recipient SES reported.
    pub stops: Vec<EmailStopped>,
}

/// Reads one SES event record.
pub fn read(message: &str, now: Timestamp) -> Reading {
    let event: SesEvent = match serde_json::from_str(message) {
        Ok(e) => e,
        Err(e) => return Reading::Unreadable(format!("not an SES event record: {e}")),
    };
    let kind = event.event_type.or(event.notification_type);
    let tag = |name: &str| event.mail.tags.get(name).and_then(|v| v.first()).cloned();
    let owner = tag(tags::OWNER).and_then(|v| tags::owner(&v));
    let notification = tag(tags::NOTIFICATION).and_then(|v| tags::notification(&v));
    let at = |t: &str| t.parse::<Timestamp>().unwrap_or(now);
    let stops: Vec<EmailStopped> = match (kind.as_deref(), event.bounce, event.complaint) {
        (Some("Bounce"), Some(b), _) if b.bounce_type == "Permanent" => b
            .bounced_recipients
            .into_iter()
            .map(|r| EmailStopped {
                reason: StopReason::Bounced,
                address: r.email_address,
                at: at(&b.timestamp),
                detail: r.diagnostic_code.as_deref().and_then(detail),
            })
            .collect(),
        (Some("Bounce"), Some(b), _) => {
            return Reading::Ignore(format!("a {} bounce", b.bounce_type.to_lowercase()));
        }
        (Some("Complaint"), _, Some(c)) => c
            .complained_recipients
            .into_iter()
            .map(|r| EmailStopped {
                reason: StopReason::Complained,
                address: r.email_address,
                at: at(&c.timestamp),
                detail: c.complaint_feedback_type.as_deref().and_then(detail),
            })
            .collect(),
        (Some(kind @ ("Bounce" | "Complaint")), _, _) => {
            return Reading::Unreadable(format!("a {kind} event without its {kind} object"));
        }
        (Some(other), _, _) => return Reading::Ignore(format!("a {other} event")),
        (None, _, _) => {
            return Reading::Unreadable("neither eventType nor notificationType".into());
        }
    };
    if stops.is_empty() {
        return Reading::Unreadable("no recipients".into());
    }
    Reading::Stop(Feedback {
        owner,
        notification,
        stops,
    })
}

/// A receiving server's text as a reason's detail: one line of printable text, bounded.
fn detail(text: &str) -> Option<String> {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(DETAIL_MAX)
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_string())
}

/// What one invocation did, for its metrics (and its response).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Owners whose e-mail this turned off.
    pub stopped: usize,
    /// Deliveries marked failed.
    pub failed: usize,
    /// Records with nothing to change, or whose owner has another address by now.
    pub ignored: usize,
    /// Records that named no owner this service tagged.
    pub unattributed: usize,
    /// Records that could not be read.
    pub unreadable: usize,
}

/// Applies every record of an SNS invocation; a table failure ends it (for Lambda to retry).
pub async fn handle<S: EmailStops>(
    store: &S,
    event: SnsEvent,
    now: Timestamp,
) -> Result<Applied, TableError> {
    let mut applied = Applied::default();
    for record in event.records {
        let feedback = match read(&record.sns.message, now) {
            Reading::Stop(f) => f,
            Reading::Ignore(why) => {
                tracing::info!(message_id = %record.sns.message_id, %why, "nothing to change");
                applied.ignored += 1;
                continue;
            }
            Reading::Unreadable(why) => {
                tracing::error!(message_id = %record.sns.message_id, %why, "unreadable SES event");
                applied.unreadable += 1;
                continue;
            }
        };
        let Some(owner) = feedback.owner else {
            tracing::warn!(
                message_id = %record.sns.message_id,
                "an SES event for an e-mail without this service's owner tag"
            );
            applied.unattributed += 1;
            continue;
        };
        for stop in &feedback.stops {
            if store.stop_email(&owner, stop).await? {
                tracing::info!(%owner, reason = stop.reason.as_str(), "e-mail turned off");
                applied.stopped += 1;
            } else {
                applied.ignored += 1;
            }
            if let Some(id) = feedback.notification {
                let why = match &stop.detail {
                    Some(d) => format!("{}: {d}", stop.reason.as_str()),
                    None => stop.reason.as_str().to_string(),
                };
                if store
                    .fail_email_delivery(&owner, id, &stop.address, &why, stop.at)
                    .await?
                {
                    applied.failed += 1;
                }
            }
        }
    }
    todo_lambda::metrics::emit(
        NAME,
        &[
            ("Stopped", applied.stopped),
            ("Unattributed", applied.unattributed),
            ("Unreadable", applied.unreadable),
        ],
    );
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../events/sns/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn now() -> Timestamp {
        "2026-12-06T09:00:00Z".parse().unwrap()
    }

    /// The bounce record of SES's documentation ("Examples of event data that Amazon SES
    /// publishes to Amazon SNS"), as Lambda delivers it from the topic.
    #[test]
    fn aws_documented_hard_bounce_stops_the_tagged_owners_email() {
        let event: SnsEvent = serde_json::from_str(&fixture("ses-bounce.json")).unwrap();
        let Reading::Stop(f) = read(&event.records[0].sns.message, now()) else {
            panic!("a permanent bounce stops e-mail");
        };
        assert_eq!(f.owner.as_deref(), Some("alice"));
        assert_eq!(
            f.notification,
            Some("0192f0c12a3b7c4d8e5f0123456789ab".parse().unwrap())
        );
        assert_eq!(
            f.stops,
            [EmailStopped {
                reason: StopReason::Bounced,
                address: "recipient@example.com".into(),
                at: "2017-08-05T00:41:02.669Z".parse().unwrap(),
                detail: Some("smtp; 550 5.1.1 user unknown".into()),
            }]
        );
    }

    #[test]
    fn aws_documented_complaint_stops_it_too() {
        let event: SnsEvent = serde_json::from_str(&fixture("ses-complaint.json")).unwrap();
        let Reading::Stop(f) = read(&event.records[0].sns.message, now()) else {
            panic!("a complaint stops e-mail");
        };
        assert_eq!(f.stops[0].reason, StopReason::Complained);
        assert_eq!(f.stops[0].address, "recipient@example.com");
        assert_eq!(f.stops[0].detail.as_deref(), Some("abuse"));
    }

    #[test]
    fn soft_bounces_other_events_and_garbage_change_nothing() {
        let bounce = |kind: &str| {
            serde_json::json!({
                "eventType": "Bounce",
                "bounce": {"bounceType": kind, "bouncedRecipients": [{"emailAddress": "a@b.co"}],
                           "timestamp": "2026-12-06T08:00:00Z"},
                "mail": {"tags": {}}
            })
            .to_string()
        };
        assert!(matches!(
            read(&bounce("Transient"), now()),
            Reading::Ignore(_)
        ));
        assert!(matches!(
            read(&bounce("Undetermined"), now()),
            Reading::Ignore(_)
        ));
        let delivery = r#"{"eventType": "Delivery", "mail": {}, "delivery": {}}"#;
        assert!(matches!(read(delivery, now()), Reading::Ignore(_)));
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"mail": {}}"#,
            r#"{"eventType": "Bounce", "mail": {}}"#,
            r#"{"eventType": "Bounce", "mail": {}, "bounce": {"bounceType": "Permanent", "bouncedRecipients": [], "timestamp": "x"}}"#,
            r#"{"eventType": "Complaint", "mail": {"tags": "x"}, "complaint": {}}"#,
        ] {
            assert!(
                matches!(read(bad, now()), Reading::Unreadable(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_identity_notification_without_tags_is_read_but_names_no_owner() {
        let message = serde_json::json!({
            "notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "a@b.co",
                       "diagnosticCode": "smtp; 550\r\nInjected: header\u{0}"}],
                       "timestamp": "not a time"},
            "mail": {"timestamp": "2026-12-06T08:00:00Z", "source": "x@y.z"}
        })
        .to_string();
        let Reading::Stop(f) = read(&message, now()) else {
            panic!("readable");
        };
        assert_eq!(f.owner, None);
        assert_eq!(f.stops[0].at, now(), "an unreadable time is the time read");
        assert_eq!(
            f.stops[0].detail.as_deref(),
            Some("smtp; 550  Injected: header"),
            "one line of text"
        );
    }
}
