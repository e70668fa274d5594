//! The e-mail channel: each reminder as an e-mail through Amazon SES (`SendEmail`, API v2), to
//! the address in its owner's settings, when they turned e-mail on.
//!
//! The message has a plain-text and an HTML body with the task's title, its due time in the
//! task's own time zone (else the reminder's time in UTC) and a link to the task. SES's
//! `MessageRejected` and `BadRequest` (an address it will not send to) are permanent: recorded,
//! never retried. Throttling, a paused account, an unverified sender or configuration set
//! (the operator's to fix) and network errors are transient: the record is retried until it is
//! an hour old, then dead-lettered, and can be redriven once fixed. A bounce is reported by SES
//! later, through the configuration set's event destination: each e-mail carries its owner and
//! notification as message tags ([`tags`]), which SES hands back with the event, and the
//! feedback function ([`crate::email_feedback`]) turns the owner's e-mail off.

use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use todo_schema::notification::{Channel, Notification};
use todo_schema::validation::not_in_a_title;

use todo_lambda::table::TableError;

use super::delivery::{Destinations, SendError, Sender};
use crate::store::Settings;

/// The text of one reminder e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The e-mail for `n`, linking to `link` (the task's page).
pub fn compose(n: &Notification, link: &str) -> Composed {
    // A subject is one line that reads as written: what a title may not hold (control
    // characters, line separators, bidi controls) never reaches it, even from a title stored
    // before the rule (validate on write, read leniently).
    let title: String = n
        .title
        .chars()
        .map(|c| if not_in_a_title(c) { ' ' } else { c })
        .collect();
    let when = match &n.due {
        Some(due) => {
            let local = due.at.as_datetime().with_timezone(&due.tz.tz());
            // The zone's abbreviation tells the two 01:30s of a night the clocks go back apart.
            format!(
                "Due {} ({})",
                local.format("%a %-d %b %Y, %H:%M %Z"),
                due.tz.name()
            )
        }
        None => format!(
            "Reminder set for {} (UTC)",
            n.reminder_at.as_datetime().format("%a %-d %b %Y, %H:%M")
        ),
    };
    let late = if n.late {
        "\n(This reminder is late: it was due earlier.)"
    } else {
        ""
    };
    Composed {
        subject: format!("Reminder: {title}"),
        text: format!("{title}\n{when}{late}\n\nOpen the task: {link}\n"),
        html: format!(
            "<!doctype html><html><body><h1>{}</h1><p>{}</p>{}<p><a href=\"{}\">Open the task</a></p></body></html>",
            escape(&title),
            escape(&when),
            if n.late {
                "<p>This reminder is late: it was due earlier.</p>"
            } else {
                ""
            },
            escape(link)
        ),
    }
}

/// HTML-escapes text for an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The SES client and where mail comes from.
pub struct Email<'a, S> {
    pub client: aws_sdk_sesv2::Client,
    /// `EMAIL_SENDER`: a verified SES identity.
    pub sender: String,
    /// `EMAIL_CONFIGURATION_SET`: events (bounces, complaints) and sending rules.
    pub configuration_set: Option<String>,
    /// `TASK_LINK_TEMPLATE`: a URL with `{id}` for the task id.
    pub link_template: String,
    /// Where each owner's address is.
    pub settings: &'a S,
}

impl<S: Settings + Sync> Sender for Email<'_, S> {
    const CHANNEL: Channel = Channel::Email;
    const NAME: &'static str = "channel-email";

    async fn destinations(&self, n: &Notification) -> Result<Destinations, TableError> {
        let settings = self.settings.settings(&n.owner).await?;
        Ok(Destinations {
            to: settings
                .email_to()
                .map(str::to_string)
                .into_iter()
                .collect(),
            quiet: settings.quiet_hours,
        })
    }

    /// SES is one service for every address: when it fails, the batch's other e-mails wait.
    fn far_end(&self, _: &str) -> String {
        "ses".into()
    }

    async fn send(&self, n: &Notification, to: &str) -> Result<(), SendError> {
        let link = self.link_template.replace("{id}", &n.task_id.to_string());
        let mail = compose(n, &link);
        let content = |data: String| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Permanent(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(mail.subject)?)
            .body(
                Body::builder()
                    .text(content(mail.text)?)
                    .html(content(mail.html)?)
                    .build(),
            )
            .build();
        let tags = tags::of(n)
            .into_iter()
            .map(|(name, value)| {
                MessageTag::builder()
                    .name(name)
                    .value(value)
                    .build()
                    .map_err(|e| SendError::Permanent(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .set_email_tags(Some(tags))
            .send()
            .await;
        result.map(|_| ()).map_err(classify)
    }
}

/// The message tags each e-mail carries, so that SES's bounce and complaint events (which
/// carry them back in `mail.tags`) name whose e-mail and which notification it was. SES allows
/// a tag value only ASCII letters, digits, `_` and `-`, at most 256 of them (SES API v2,
/// `MessageTag`): the owner is sent base64url-encoded, the notification id as 32 hex digits.
pub mod tags {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use todo_schema::notification::Notification;
    use uuid::Uuid;

    pub const OWNER: &str = "todo-owner";
    pub const NOTIFICATION: &str = "todo-notification";
    const VALUE_MAX: usize = 256;

    /// The tags of `n`'s e-mail (no owner tag for an owner too long to encode in one).
    pub fn of(n: &Notification) -> Vec<(&'static str, String)> {
        let mut tags = vec![(NOTIFICATION, n.id.simple().to_string())];
        let owner = URL_SAFE_NO_PAD.encode(n.owner.as_bytes());
        if owner.len() <= VALUE_MAX {
            tags.push((OWNER, owner));
        }
        tags
    }

    /// The owner a tag value names, if it is one this channel wrote.
    pub fn owner(value: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        String::from_utf8(bytes).ok().filter(|o| !o.is_empty())
    }

    /// The notification a tag value names.
    pub fn notification(value: &str) -> Option<Uuid> {
        (value.len() == 32).then(|| Uuid::try_parse(value).ok())?
    }
}

/// Which SES failures are the address's (permanent) and which pass (transient).
fn classify(error: SdkError<SendEmailError>) -> SendError {
    use aws_sdk_sesv2::error::ProvideErrorMetadata;
    let text = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("SES: {code}: {message}"),
        (Some(code), None) => format!("SES: {code}"),
        _ => format!("SES: {}", aws_sdk_sesv2::error::DisplayErrorContext(&error)),
    };
    match error.as_service_error() {
        Some(SendEmailError::MessageRejected(_) | SendEmailError::BadRequestException(_)) => {
            SendError::Permanent(text)
        }
        _ => SendError::Transient(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_schema::{Due, TaskId, Timestamp};

    fn notification(title: &str, due: Option<Due>) -> Notification {
        Notification {
            id: uuid::Uuid::now_v7(),
            owner: "alice".into(),
            task_id: TaskId::generate(),
            title: title.into(),
            due,
            reminder_at: "2031-03-29T00:30:00Z".parse().unwrap(),
            late: false,
            created_at: Timestamp::now(),
            read_at: None,
            deliveries: Vec::new(),
        }
    }

    #[test]
    fn the_due_time_is_shown_in_the_tasks_zone_across_a_dst_change() {
        // 2031-03-30 01:30 UTC is 02:30 in Dublin... which does not exist: Ireland moves
        // to summer time at 01:00 UTC that morning, so it reads 02:30 IST.
        let due: Due = serde_json::from_value(
            serde_json::json!({"at": "2031-03-30T01:30:00Z", "tz": "Europe/Dublin"}),
        )
        .unwrap();
        let mail = compose(&notification("Call the bank", Some(due)), "https://app/t/1");
        assert_eq!(mail.subject, "Reminder: Call the bank");
        assert!(
            mail.text
                .contains("Due Sun 30 Mar 2031, 02:30 IST (Europe/Dublin)"),
            "{}",
            mail.text
        );
        let winter: Due = serde_json::from_value(
            serde_json::json!({"at": "2031-03-29T01:30:00Z", "tz": "Europe/Dublin"}),
        )
        .unwrap();
        let mail = compose(&notification("x", Some(winter)), "l");
        assert!(
            mail.text.contains("Sat 29 Mar 2031, 01:30 GMT"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("Open the task: l"));
    }

    #[test]
    fn the_two_0130s_of_a_night_the_clocks_go_back_are_told_apart() {
        let due = |at: &str| -> Due {
            serde_json::from_value(serde_json::json!({"at": at, "tz": "Europe/Dublin"})).unwrap()
        };
        let a = compose(&notification("x", Some(due("2030-10-27T00:30:00Z"))), "l").text;
        let b = compose(&notification("x", Some(due("2030-10-27T01:30:00Z"))), "l").text;
        assert!(
            a.contains("01:30 IST") && b.contains("01:30 GMT"),
            "{a} / {b}"
        );
    }

    #[test]
    fn without_a_due_time_the_reminder_time_is_shown_in_utc() {
        let mail = compose(&notification("x", None), "l");
        assert!(
            mail.text
                .contains("Reminder set for Sat 29 Mar 2031, 00:30 (UTC)")
        );
    }

    #[test]
    fn a_hostile_title_stays_text() {
        let mail = compose(
            &notification("<script>alert(1)</script>\r\nBcc: x@y.z", None),
            "https://app/t/1?a=1&b=\"2\"",
        );
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(mail.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!mail.html.contains("<script>"));
        assert!(
            mail.html
                .contains("href=\"https://app/t/1?a=1&amp;b=&quot;2&quot;\"")
        );
    }

    /// Found by an outside tester: titles stored before the title rule may hold line
    /// separators and bidi controls; the subject gets a space in their place.
    #[test]
    fn a_stored_titles_separators_and_bidi_controls_never_reach_the_subject() {
        let title = "Pay\u{2028}Bcc: x\u{2029}invoice\u{202E}fdp.exe\u{202A}\u{202B}\u{202C}\u{202D}\u{2066}\u{2067}\u{2068}\u{2069}";
        let mail = compose(&notification(title, None), "l");
        assert_eq!(
            mail.subject,
            format!("Reminder: Pay Bcc: x invoice fdp.exe{}", " ".repeat(8))
        );
        // Nor the bodies.
        for c in title.chars().filter(|c| !c.is_ascii()) {
            assert!(!mail.text.contains(c) && !mail.html.contains(c), "{c:?}");
        }
    }

    #[test]
    fn the_tags_name_any_owner_in_the_characters_ses_allows_and_read_back() {
        let allowed = |v: &str| {
            !v.is_empty()
                && v.len() <= 256
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let long = "x".repeat(192);
        for owner in ["alice", "auth0|5f1c", "ä@b.c/ü?=+", long.as_str()] {
            let mut n = notification("t", None);
            n.owner = owner.into();
            let t = tags::of(&n);
            assert_eq!(t.len(), 2, "{owner}");
            for (name, value) in &t {
                assert!(allowed(name) && allowed(value), "{name}={value}");
            }
            assert_eq!(tags::owner(&t[1].1).as_deref(), Some(owner));
            assert_eq!(tags::notification(&t[0].1), Some(n.id));
        }
        let mut long = notification("t", None);
        long.owner = "x".repeat(193);
        assert_eq!(
            tags::of(&long).len(),
            1,
            "too long to tag: the owner is left out"
        );
        for bad in ["", "!!", "%%%%"] {
            assert_eq!(tags::owner(bad), None, "{bad}");
        }
        assert_eq!(tags::notification("not-a-uuid"), None);
        assert_eq!(
            tags::notification("0192f0c1-2a3b-7c4d-8e5f-0123456789ab"),
            None,
            "only the form this channel writes"
        );
    }
}
