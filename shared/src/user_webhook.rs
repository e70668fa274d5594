//! Webhooks a user registers for themselves (`POST /webhooks`), beside the operator's one:
//! every reminder of theirs and, if they choose, every change to their tasks, POSTed to their
//! URL and signed as the operator's webhook is (`todo_schema::webhook`), with a secret of the
//! webhook's own that is shown once, when it is created.
//!
//! The URL is one the server calls on a user's behalf, so only public `https` URLs are taken:
//! a DNS name (no IP literal, no `localhost`, no single-label or `.internal`/`.local` name), no
//! user info. The channel checks again when it sends: it connects only to public addresses that
//! name resolves to (no server-side request forgery through DNS). The operator may admit exact
//! origins besides (`UserWebhookPrivateOrigins`; the local cloud admits its receiver's).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::notification::DeliveryStatus;
use crate::{FieldError, Timestamp};

/// The most webhooks one user may have.
pub const WEBHOOKS_MAX: usize = 5;
/// The longest URL accepted.
pub const URL_MAX_LEN: usize = 2_048;

/// What a user registers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    /// Also every change to the user's tasks (their CloudEvents), not only reminders.
    #[serde(default)]
    pub task_events: bool,
}

/// A stored webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserWebhook {
    pub id: Uuid,
    pub owner: String,
    pub url: String,
    pub task_events: bool,
    /// The signing secret (`whsec_` and 64 hex digits): the API shows it once, on creation.
    pub secret: String,
    pub created_at: Timestamp,
}

impl NewWebhook {
    /// Every reason this webhook cannot be stored (`private_origins`: exact
    /// `scheme://host:port` origins admitted besides public https URLs).
    pub fn problems(&self, private_origins: &[String]) -> Vec<FieldError> {
        match check_url(&self.url, private_origins) {
            Ok(()) => Vec::new(),
            Err(message) => vec![FieldError::new("url", "invalid", message)],
        }
    }

    /// The webhook to store for `owner`, with a fresh id and `secret`.
    pub fn into_webhook(self, owner: &str, secret: String, now: Timestamp) -> UserWebhook {
        UserWebhook {
            id: Uuid::now_v7(),
            owner: owner.to_string(),
            url: self.url,
            task_events: self.task_events,
            secret,
            created_at: now,
        }
    }
}

/// The origin (`scheme://host[:port]`, lower case) of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    Some(match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Whether `url`'s origin is one of `private_origins` exactly.
pub fn is_admitted_privately(url: &str, private_origins: &[String]) -> bool {
    origin_of(url).is_some_and(|o| {
        private_origins
            .iter()
            .any(|p| p.trim_end_matches('/').eq_ignore_ascii_case(&o))
    })
}

/// Why `url` may not be a user's webhook (see the module's rules).
pub fn check_url(url: &str, private_origins: &[String]) -> Result<(), String> {
    if url.len() > URL_MAX_LEN || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("at most {URL_MAX_LEN} characters, no spaces"));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|_| "must be an absolute https URL".to_string())?;
    let (Some(scheme), Some(authority), Some(host)) =
        (uri.scheme_str(), uri.authority(), uri.host())
    else {
        return Err("must be an absolute https URL".into());
    };
    if authority.as_str().contains('@') {
        return Err(
            "must not carry a user name or password (put a token in the path or query)".into(),
        );
    }
    if url.contains('#') {
        return Err("must not have a fragment (it is never sent)".into());
    }
    if is_admitted_privately(url, private_origins) {
        return Ok(());
    }
    if !scheme.eq_ignore_ascii_case("https") {
        return Err("must be an https URL".into());
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    // WHATWG URL parsing (and the resolvers behind it) reads a host whose last label is a
    // number as IPv4: 2130706433, 0x7f.1 and 127.1 are all 127.0.0.1.
    let last = host.rsplit('.').next().unwrap_or_default();
    let numeric = |l: &str| {
        !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())
            || l.strip_prefix("0x")
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let ip_literal = host.starts_with('[') || numeric(last);
    // Names that are never public: RFC 6761's special-use names and what networks commonly
    // use inside (RFC 6762's .local, RFC 8375's .home.arpa, .internal, .lan, .corp, ...).
    let private_name = !host.contains('.')
        || [
            "localhost",
            "local",
            "internal",
            "localdomain",
            "home.arpa",
            "lan",
            "corp",
            "home",
            "intranet",
            "private",
            "test",
            "invalid",
            "example",
        ]
        .iter()
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")));
    // The port as written: the URI type reads `:99999` and `:0` without complaint.
    let port_ok = match authority.as_str().rsplit_once(':') {
        Some((_, port)) if !authority.as_str().ends_with(']') => {
            port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        _ => true,
    };
    if !port_ok {
        return Err("the port must be 1 to 65535".into());
    }
    if host.len() > 253 {
        return Err("the host name must be at most 253 characters".into());
    }
    let labels_ok = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if ip_literal || private_name || !labels_ok {
        return Err(
            "must name a public host by its DNS name (no IP address, localhost or internal name)"
                .into(),
        );
    }
    Ok(())
}

/// One attempt log entry of a webhook: what happened to one event sent to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub webhook_id: Uuid,
    /// The event's id (the notification id for a reminder): also `X-Todo-Delivery`.
    pub event_id: Uuid,
    /// `reminder.due`, `task.created`, ...
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The HTTP status of the last answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// While retrying: not before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// When it was first attempted (retries end a day after).
    pub first_attempt_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookDelivery {
    /// Marks it to be retried at `at`, for `reason`; returns `at`.
    pub fn retry(&mut self, reason: String, at: Timestamp) -> Timestamp {
        self.status = DeliveryStatus::Retrying;
        self.delivered_at = None;
        self.last_error = Some(reason);
        self.next_attempt_at = Some(at);
        at
    }

    /// Marks it failed for good, for `reason`.
    pub fn fail(&mut self, reason: String) {
        self.status = DeliveryStatus::Failed;
        self.delivered_at = None;
        self.last_error = Some(reason);
        self.next_attempt_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str) -> NewWebhook {
        NewWebhook {
            url: url.into(),
            task_events: false,
        }
    }

    fn local() -> Vec<String> {
        vec!["http://127.0.0.1:4100".into()]
    }

    #[test]
    fn public_https_urls_and_admitted_origins_are_taken() {
        for url in [
            "https://hooks.example.com/todo",
            "https://hooks.example.com:8443/todo?token=abc",
            "https://example.com.",
            "https://xn--bcher-kva.de/hook",
            "http://127.0.0.1:4100/hooks/alice",
        ] {
            assert_eq!(hook(url).problems(&local()), vec![], "{url}");
        }
    }

    #[test]
    fn anything_that_could_reach_inside_is_refused() {
        for url in [
            "http://hooks.example.com/todo",
            "ftp://hooks.example.com/todo",
            "https://169.254.169.254/latest/meta-data",
            "https://127.0.0.1/x",
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://127.1/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://localhost/x",
            "https://api.localhost/x",
            "https://metadata.google.internal/x",
            "https://printer.local/x",
            "https://intranet/x",
            "https://user:pass@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "https://hooks_example.com/x",
            "https://hooks.example.com:99999/x",
            "https://hooks.example.com:0/x",
            "https://hooks.example.com:/x",
            "https://printer.lan/x",
            "https://wiki.corp/x",
            "https://hooks.example.invalid/x",
            "https://hooks.test/x",
            &format!("https://{}.example.com/x", "a".repeat(64)),
            &format!("https://{}.com/x", vec!["b".repeat(60); 5].join(".")),
            "http://127.0.0.1:4101/x",
            "/relative",
            "not a url",
            "",
            &format!("https://example.com/{}", "x".repeat(2_100)),
        ] {
            let p = hook(url).problems(&local());
            assert_eq!(p.len(), 1, "{url}");
            assert_eq!(p[0].field, "url");
        }
    }

    #[test]
    fn origins_are_compared_whole() {
        assert!(is_admitted_privately("http://127.0.0.1:4100/a", &local()));
        assert!(!is_admitted_privately("http://127.0.0.1:41000/a", &local()));
        assert!(!is_admitted_privately("https://127.0.0.1:4100/a", &local()));
        assert!(!is_admitted_privately("http://127.0.0.1/a", &local()));
        assert_eq!(
            origin_of("https://Example.com/x").as_deref(),
            Some("https://example.com")
        );
    }

    #[test]
    fn the_wire_shape_is_strict() {
        let parsed: NewWebhook =
            serde_json::from_value(serde_json::json!({"url": "https://a.example/x"})).unwrap();
        assert!(!parsed.task_events);
        for bad in [
            serde_json::json!({"url": "https://a.example/x", "secret": "mine"}),
            serde_json::json!({"url": 1}),
            serde_json::json!({"task_events": true}),
            serde_json::json!({"url": "https://a.example/x", "task_events": "yes"}),
        ] {
            assert!(
                serde_json::from_value::<NewWebhook>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
