//! A user's notification settings (`GET/PUT /settings/notifications`): which channels reach
//! them, and where. The in-app inbox is always on; the operator-wide webhook is the
//! operator's, not the user's; Web Push goes to the devices the user subscribed
//! (`POST /push-subscriptions`) unless they turn it off here.

use serde::{Deserialize, Serialize};

use crate::quiet_hours::QuietHours;
use crate::wire::{object, present, present_object};
use crate::{FieldError, Timestamp};

/// The longest e-mail address (RFC 5321's path limit).
pub const EMAIL_MAX_LEN: usize = 254;

/// What a user chose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    #[serde(deserialize_with = "object")]
    pub email: EmailSettings,
    /// Optional in a `PUT` (on when left out).
    #[serde(default, deserialize_with = "object")]
    pub push: PushSettings,
    /// When e-mail and Web Push hold reminders back (deferred to the end, never dropped);
    /// absent for none (`null` is refused, as for an address).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_object"
    )]
    pub quiet_hours: Option<QuietHours>,
}

/// The Web Push channel: on by default (a subscription is the user's choice already).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    pub enabled: bool,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The e-mail channel: off by default; on needs an address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub enabled: bool,
    /// Absent for none; `null` is refused (one spelling of "no address").
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub address: Option<String>,
    /// Set by the service, never by the user: why it turned e-mail off (SES reported the
    /// address bounced for good, or its owner marked a reminder as spam). A `PUT` cannot set it:
    /// one sent back is ignored; it stays while e-mail stays off at the same address and goes
    /// once the user turns e-mail on again or changes the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<EmailStopped>,
}

/// Why and when the service turned a user's e-mail off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailStopped {
    pub reason: StopReason,
    /// The address SES reported.
    pub address: String,
    /// When SES reported it.
    pub at: Timestamp,
    /// What the receiving server said (a bounce's diagnostic code, a complaint's feedback
    /// type), when SES passed it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What SES reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A permanent ("hard") bounce: the address does not take mail.
    Bounced,
    /// The recipient marked a reminder as spam.
    Complained,
}

impl StopReason {
    /// The word a delivery's `last_error` starts with (`bounced: ...`).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Bounced => "bounced",
            StopReason::Complained => "complained",
        }
    }
}

impl EmailSettings {
    /// What a `PUT` of `self` stores over `before`: the service's `stopped` kept while e-mail
    /// stays off at the same address, whatever the request said about it.
    pub fn replacing(mut self, before: &EmailSettings) -> Self {
        self.stopped = before
            .stopped
            .clone()
            .filter(|_| !self.enabled && self.address == before.address);
        self
    }
}

impl NotificationSettings {
    /// Every reason these settings cannot be stored.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        match &self.email.address {
            Some(address) => {
                if let Err(message) = check_address(address) {
                    out.push(FieldError::new("email.address", "invalid", message));
                }
            }
            None if self.email.enabled => out.push(FieldError::new(
                "email.address",
                "required",
                "e-mail reminders need an address",
            )),
            None => {}
        }
        if let Some(quiet) = &self.quiet_hours {
            out.extend(quiet.problems());
        }
        out
    }

    /// Until when the interrupting channels wait, when `now` is in the owner's quiet hours.
    pub fn quiet_until(&self, now: Timestamp) -> Option<Timestamp> {
        self.quiet_hours.as_ref().and_then(|q| q.until(now))
    }

    /// The address to e-mail reminders to, when the channel is on.
    pub fn email_to(&self) -> Option<&str> {
        self.email.address.as_deref().filter(|_| self.email.enabled)
    }
}

/// A deliverable address: `local@domain`, printable ASCII without spaces or angle brackets
/// (no display names, no header injection), a domain of dot-separated labels.
fn check_address(address: &str) -> Result<(), String> {
    if address.is_empty() || address.len() > EMAIL_MAX_LEN {
        return Err(format!("must be 1 to {EMAIL_MAX_LEN} characters"));
    }
    let printable = address
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b',' | b';' | b'"' | b'\\'));
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("must be local@domain".into());
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let tld_is_a_name = domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()));
    let dots_ok = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
    if local.len() > 64 {
        return Err("the part before @ must be at most 64 characters".into());
    }
    if !printable
        || local.is_empty()
        || local.contains('@')
        || !labels_ok
        || !tld_is_a_name
        || !dots_ok
    {
        return Err("must be a plain address such as name@example.com".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(enabled: bool, address: Option<&str>) -> NotificationSettings {
        NotificationSettings {
            email: EmailSettings {
                enabled,
                address: address.map(str::to_string),
                stopped: None,
            },
            push: PushSettings::default(),
            quiet_hours: None,
        }
    }

    #[test]
    fn good_settings_have_no_problems() {
        assert_eq!(NotificationSettings::default().problems(), vec![]);
        assert_eq!(email(true, Some("alice@example.com")).problems(), vec![]);
        assert_eq!(
            email(false, Some("a.b+tag@mail.example.co.uk")).problems(),
            vec![]
        );
        assert_eq!(email(true, Some("a@x.io")).email_to(), Some("a@x.io"));
        assert_eq!(email(false, Some("a@x.io")).email_to(), None);
    }

    #[test]
    fn bad_addresses_and_an_enabled_channel_without_one_are_refused() {
        assert_eq!(email(true, None).problems()[0].code, "required");
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "alice@example..com",
            "alice@-example.com",
            "Alice <alice@example.com>",
            "alice@example.com\r\nBcc: x@y.z",
            "a b@example.com",
            "a@b@example.com",
            "tâche@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@127.0.0.1",
            &format!("{}@example.com", "a".repeat(65)),
            &format!("a@{}.com", "b".repeat(250)),
        ] {
            let p = email(false, Some(bad)).problems();
            assert_eq!(p.len(), 1, "{bad:?}");
            assert_eq!(p[0].field, "email.address");
        }
    }

    #[test]
    fn the_wire_shape_is_strict() {
        let parsed: NotificationSettings =
            serde_json::from_str(r#"{"email": {"enabled": true, "address": "a@b.co"}}"#).unwrap();
        assert_eq!(parsed, email(true, Some("a@b.co")));
        assert!(
            serde_json::from_str::<NotificationSettings>(
                r#"{"email": {"enabled": true}, "sms": {}}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<NotificationSettings>(r#"{"email": {"enabled": "yes"}}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<NotificationSettings>(r#"{}"#).is_err());
        assert!(
            serde_json::from_str::<NotificationSettings>(
                r#"{"email": {"enabled": false, "address": null}}"#
            )
            .is_err(),
            "null is not an address"
        );
        let without: NotificationSettings =
            serde_json::from_str(r#"{"email": {"enabled": false}}"#).unwrap();
        assert_eq!(without, NotificationSettings::default());
        for positional in [
            r#"{"email": [true, "a@b.co"]}"#,
            r#"{"email": {"enabled": false}, "push": [false]}"#,
            r#"{"email": {"enabled": false}, "quiet_hours": ["22:00", "07:00", "UTC"]}"#,
        ] {
            assert!(
                serde_json::from_str::<NotificationSettings>(positional).is_err(),
                "objects only: {positional}"
            );
        }
        let quiet: NotificationSettings = serde_json::from_str(
            r#"{"email": {"enabled": false}, "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"}}"#,
        )
        .unwrap();
        assert_eq!(quiet.quiet_hours.unwrap().time_zone.name(), "Europe/Berlin");
        assert!(
            serde_json::from_str::<NotificationSettings>(
                r#"{"email": {"enabled": false}, "quiet_hours": null}"#
            )
            .is_err(),
            "null is not quiet hours"
        );
    }

    #[test]
    fn a_put_keeps_the_services_stop_only_while_email_stays_off_at_that_address() {
        let stop = EmailStopped {
            reason: StopReason::Bounced,
            address: "a@b.co".into(),
            at: "2026-12-06T09:00:00Z".parse().unwrap(),
            detail: Some("smtp; 550 5.1.1 user unknown".into()),
        };
        let before = EmailSettings {
            enabled: false,
            address: Some("a@b.co".into()),
            stopped: Some(stop.clone()),
        };
        let put = |enabled: bool, address: &str, stopped: Option<EmailStopped>| EmailSettings {
            enabled,
            address: Some(address.into()),
            stopped,
        };
        assert_eq!(
            put(false, "a@b.co", None).replacing(&before).stopped,
            Some(stop.clone()),
            "another field's change keeps the reason"
        );
        assert_eq!(put(true, "a@b.co", None).replacing(&before).stopped, None);
        assert_eq!(put(false, "c@d.co", None).replacing(&before).stopped, None);
        let forged = EmailStopped {
            reason: StopReason::Complained,
            ..stop
        };
        assert_eq!(
            put(true, "c@d.co", Some(forged.clone()))
                .replacing(&EmailSettings::default())
                .stopped,
            None,
            "a client cannot set it"
        );
        let read: EmailSettings = serde_json::from_value(serde_json::json!({
            "enabled": false, "address": "a@b.co",
            "stopped": {"reason": "complained", "address": "a@b.co", "at": "2026-12-06T09:00:00Z"}
        }))
        .unwrap();
        assert_eq!(read.stopped.unwrap().reason, StopReason::Complained);
    }
}
