//! Recurring tasks: a subset of RFC 5545 RRULE, DAILY or coarser.
//!
//! A rule is anchored at the task's own due time (its DTSTART), in the task's time zone, so the
//! next occurrence keeps its local wall-clock time across daylight-saving changes. `COUNT` counts
//! the occurrences that remain including the current one: completing an occurrence hands the next
//! one the rule with `COUNT` decreased by one, and `COUNT=1` is the last occurrence.
//!
//! Validate on write, read leniently: parsing (`FromStr`) applies every rule of the contract and
//! is what commands use; deserializing (a stored task, an event) keeps the text as it is, so a
//! rule tightened later never makes an old task or event unreadable. A series whose next date
//! would leave years 0000-9999 ends there.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Timelike};
use rrule::{Frequency, NWeekday, RRule, Unvalidated, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::RRULE_MAX_CHARS;
use crate::task::Due;
use crate::time::Timestamp;

/// The rule parts accepted. Anything finer than a day (BYHOUR, BYMINUTE, ...) is refused.
const ALLOWED_PARTS: [&str; 6] = ["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT", "UNTIL"];
/// How many candidate occurrences to look at before giving up on finding the next one.
const SEARCH_LIMIT: usize = 1_000;
/// The longest gap between occurrences a rule may ask for (INTERVAL).
pub const INTERVAL_MAX: u32 = 1_000;

/// A validated, normalized recurrence rule such as `FREQ=WEEKLY;BYDAY=MO,WE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence(String);

/// Why a recurrence rule was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecurrenceError {
    #[error("recurrence must be at most {RRULE_MAX_CHARS} characters")]
    TooLong,
    #[error("recurrence part {0:?} is not NAME=VALUE")]
    Malformed(String),
    #[error(
        "recurrence part {0} is not supported (use FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL)"
    )]
    UnsupportedPart(String),
    #[error("recurrence part {0} appears twice")]
    DuplicatePart(String),
    #[error("recurrence needs FREQ")]
    MissingFrequency,
    #[error("recurrence FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")]
    TooFrequent,
    #[error("recurrence cannot have both COUNT and UNTIL")]
    CountAndUntil,
    #[error("recurrence COUNT must be a whole number from 1")]
    BadCount,
    #[error("recurrence INTERVAL must be a whole number from 1 to {INTERVAL_MAX}")]
    BadInterval,
    #[error("recurrence BYMONTHDAY values must be 1 to 31 or -31 to -1")]
    BadMonthDay,
    #[error(
        "recurrence BYDAY values are weekdays (MO..SU), with an ordinal (1 to 53 or -53 to -1, as in 2TU) only when FREQ is MONTHLY or YEARLY"
    )]
    BadWeekday,
    #[error("invalid recurrence: {0}")]
    Invalid(String),
}

impl Recurrence {
    /// The normalized rule text, without an `RRULE:` prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.split(';').filter_map(|p| p.split_once('='))
    }

    fn count(&self) -> Option<u32> {
        self.parts()
            .find(|(k, _)| *k == "COUNT")
            .and_then(|(_, v)| v.parse().ok())
    }

    fn with_count(&self, count: u32) -> Recurrence {
        let text = self
            .parts()
            .map(|(k, v)| {
                if k == "COUNT" {
                    format!("COUNT={count}")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(";");
        Recurrence(text)
    }

    fn build(&self, due: &Due) -> Result<(rrule::RRuleSet, DateTime<rrule::Tz>), RecurrenceError> {
        let rule = self.rule()?;
        // rrule counts in whole seconds; the anchor's milliseconds are added back to each
        // occurrence by `next_occurrence`.
        let whole_seconds = due
            .at
            .as_datetime()
            .with_nanosecond(0)
            .unwrap_or(due.at.as_datetime());
        let start = whole_seconds.with_timezone(&rrule::Tz::Tz(due.tz.tz()));
        let set = rule
            .build(start)
            .map_err(|e| RecurrenceError::Invalid(e.to_string()))?;
        Ok((set, start))
    }

    /// Checks the rule against the due time it would be anchored at (UNTIL before the due time,
    /// a BYMONTHDAY that never occurs, ...).
    pub fn validate_for(&self, due: &Due) -> Result<(), RecurrenceError> {
        self.build(due).map(|_| ())
    }

    /// The occurrence that follows the one due at `due`, with the rule it carries on, or `None`
    /// when the series has ended (COUNT used up, UNTIL passed, or no further date exists).
    pub fn next_occurrence(&self, due: &Due) -> Result<Option<(Due, Recurrence)>, RecurrenceError> {
        let remaining = self.count();
        if remaining == Some(1) {
            return Ok(None);
        }
        let (set, start) = self.build(due)?;
        let next = set
            .into_iter()
            .take(SEARCH_LIMIT)
            .find(|occurrence| *occurrence > start);
        // A date past year 9999 cannot be stored: the series ends before it.
        let millis = chrono::Duration::milliseconds(i64::from(
            due.at.as_datetime().timestamp_subsec_millis(),
        ));
        let next = next
            .and_then(|at| Timestamp::from_datetime(at.with_timezone(&chrono::Utc) + millis).ok());
        Ok(next.map(|at| {
            let next_due = Due { at, tz: due.tz };
            let rule = match remaining {
                Some(n) => self.with_count(n - 1),
                None => self.clone(),
            };
            (next_due, rule)
        }))
    }
}

impl FromStr for Recurrence {
    type Err = RecurrenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.chars().count() > RRULE_MAX_CHARS {
            return Err(RecurrenceError::TooLong);
        }
        let upper = s.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);
        let mut seen: Vec<&str> = Vec::new();
        let mut ordinal_weekdays = false;
        let mut monthly_or_yearly = false;
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .filter(|(n, v)| !n.is_empty() && !v.is_empty())
                .ok_or_else(|| RecurrenceError::Malformed(part.to_string()))?;
            if !ALLOWED_PARTS.contains(&name) {
                return Err(RecurrenceError::UnsupportedPart(name.to_string()));
            }
            if seen.contains(&name) {
                return Err(RecurrenceError::DuplicatePart(name.to_string()));
            }
            seen.push(name);
            match name {
                "FREQ" => {
                    let freq: Frequency = value
                        .parse()
                        .map_err(|_| RecurrenceError::Invalid(format!("unknown FREQ {value}")))?;
                    if !matches!(
                        freq,
                        Frequency::Daily
                            | Frequency::Weekly
                            | Frequency::Monthly
                            | Frequency::Yearly
                    ) {
                        return Err(RecurrenceError::TooFrequent);
                    }
                    monthly_or_yearly = matches!(freq, Frequency::Monthly | Frequency::Yearly);
                }
                "BYDAY" => {
                    for day in value.split(',') {
                        ordinal_weekdays |= weekday_ordinal(day)?.is_some();
                    }
                }
                "COUNT" if !value.parse::<u32>().is_ok_and(|n| n >= 1) => {
                    return Err(RecurrenceError::BadCount);
                }
                "INTERVAL"
                    if !value
                        .parse::<u32>()
                        .is_ok_and(|n| (1..=INTERVAL_MAX).contains(&n)) =>
                {
                    return Err(RecurrenceError::BadInterval);
                }
                "BYMONTHDAY"
                    if !value.split(',').all(|d| {
                        d.parse::<i8>()
                            .is_ok_and(|d| (1..=31).contains(&d.unsigned_abs()) && d != 0)
                    }) =>
                {
                    return Err(RecurrenceError::BadMonthDay);
                }
                _ => {}
            }
        }
        if !seen.contains(&"FREQ") {
            return Err(RecurrenceError::MissingFrequency);
        }
        if seen.contains(&"COUNT") && seen.contains(&"UNTIL") {
            return Err(RecurrenceError::CountAndUntil);
        }
        // RFC 5545 §3.3.10: BYDAY "MUST NOT be specified with a numeric value when the FREQ rule
        // part is not set to MONTHLY or YEARLY" (rrule would otherwise ignore the weekday).
        if ordinal_weekdays && !monthly_or_yearly {
            return Err(RecurrenceError::BadWeekday);
        }
        let normalized = body
            .split(';')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(";");
        let rule = Recurrence(normalized);
        rule.rule()?;
        Ok(rule)
    }
}

impl Recurrence {
    /// The rule as rrule's builder makes it. Built part by part, not parsed by rrule: its text
    /// parser needs the regex crate, which no other part of any function uses, and this way a
    /// function that never reads a rule links neither.
    fn rule(&self) -> Result<RRule<Unvalidated>, RecurrenceError> {
        let invalid = |part: &str| RecurrenceError::Invalid(format!("bad value in {part}"));
        let upper = self.0.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);
        let mut freq = None;
        let mut rule_parts = Vec::new();
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| RecurrenceError::Malformed(part.to_string()))?;
            if name == "FREQ" {
                freq = Some(value.parse::<Frequency>().map_err(|_| invalid(part))?);
            } else {
                rule_parts.push((name, value, part));
            }
        }
        let mut rule = RRule::new(freq.ok_or(RecurrenceError::MissingFrequency)?);
        for (name, value, part) in rule_parts {
            rule = match name {
                "INTERVAL" => rule.interval(value.parse().map_err(|_| invalid(part))?),
                "COUNT" => rule.count(value.parse().map_err(|_| invalid(part))?),
                "UNTIL" => rule.until(until(value).ok_or_else(|| invalid(part))?),
                "BYMONTHDAY" => rule.by_month_day(
                    value
                        .split(',')
                        .map(|d| d.parse().map_err(|_| invalid(part)))
                        .collect::<Result<_, _>>()?,
                ),
                "BYDAY" => rule.by_weekday(
                    value
                        .split(',')
                        .map(|d| weekday(d).ok_or_else(|| invalid(part)))
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(RecurrenceError::UnsupportedPart(other.to_string())),
            };
        }
        Ok(rule)
    }
}

/// An RRULE `UNTIL` (`20260102T100000Z`, or a date, `20260102`, read as its start in UTC).
fn until(value: &str) -> Option<DateTime<rrule::Tz>> {
    let naive = chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(value, "%Y%m%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(naive.and_utc().with_timezone(&rrule::Tz::UTC))
}

/// One BYDAY value (`MO`, `2TU`, `-1FR`).
fn weekday(day: &str) -> Option<NWeekday> {
    let split = day.len().checked_sub(2)?;
    let (ordinal, name) = day.split_at_checked(split)?;
    let wd = match name {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    };
    if ordinal.is_empty() {
        Some(NWeekday::Every(wd))
    } else {
        ordinal.parse().ok().map(|n| NWeekday::Nth(n, wd))
    }
}

/// The ordinal of one BYDAY value (`MO` has none, `-1FR` has -1), or why it is no weekday.
fn weekday_ordinal(day: &str) -> Result<Option<i8>, RecurrenceError> {
    const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    let split = day.len().saturating_sub(2);
    let (ordinal, weekday) = day
        .split_at_checked(split)
        .ok_or(RecurrenceError::BadWeekday)?;
    if !WEEKDAYS.contains(&weekday) {
        return Err(RecurrenceError::BadWeekday);
    }
    if ordinal.is_empty() {
        return Ok(None);
    }
    let digits = ordinal.trim_start_matches(['+', '-']);
    let n: i8 = ordinal.parse().map_err(|_| RecurrenceError::BadWeekday)?;
    if digits.is_empty() || digits.len() > 2 || n == 0 || n.unsigned_abs() > 53 {
        return Err(RecurrenceError::BadWeekday);
    }
    Ok(Some(n))
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Recurrence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Recurrence {
    /// Leniently: the text as stored or sent. Commands check it with [`Recurrence::checked`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Recurrence)
    }
}

impl Recurrence {
    /// The rule checked against every rule of the contract and normalized: what a command may
    /// store. A received or stored rule is data; this is where a new or changed one is judged.
    pub fn checked(&self) -> Result<Recurrence, RecurrenceError> {
        self.0.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(at: &str, tz: &str) -> Due {
        Due {
            at: at.parse().unwrap(),
            tz: tz.parse().unwrap(),
        }
    }

    fn next(rule: &str, d: Due) -> Option<(Due, Recurrence)> {
        rule.parse::<Recurrence>()
            .unwrap()
            .next_occurrence(&d)
            .unwrap()
    }

    #[test]
    fn weekly_keeps_local_time_across_spring_forward() {
        // Monday 2026-03-23 09:00 in Berlin is 08:00Z (CET); the clocks go forward on 2026-03-29,
        // so the next Monday 09:00 is 07:00Z (CEST).
        let (d, _) = next(
            "FREQ=WEEKLY;BYDAY=MO",
            due("2026-03-23T08:00:00Z", "Europe/Berlin"),
        )
        .unwrap();
        assert_eq!(d.at.to_string(), "2026-03-30T07:00:00.000Z");
        assert_eq!(d.tz.name(), "Europe/Berlin");
    }

    #[test]
    fn daily_keeps_local_time_across_fall_back() {
        // New York falls back on 2026-11-01: 09:00 EDT is 13:00Z, 09:00 EST is 14:00Z.
        let (d, _) = next(
            "FREQ=DAILY",
            due("2026-10-31T13:00:00Z", "America/New_York"),
        )
        .unwrap();
        assert_eq!(d.at.to_string(), "2026-11-01T14:00:00.000Z");
    }

    #[test]
    fn interval_byday_and_bymonthday() {
        let (d, _) = next(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR",
            due("2026-01-05T10:00:00Z", "UTC"),
        )
        .unwrap();
        assert_eq!(d.at.to_string(), "2026-01-09T10:00:00.000Z");
        let (d, _) = next(
            "FREQ=MONTHLY;BYMONTHDAY=31",
            due("2026-01-31T10:00:00Z", "UTC"),
        )
        .unwrap();
        assert_eq!(d.at.to_string(), "2026-03-31T10:00:00.000Z");
    }

    #[test]
    fn count_is_carried_down_and_ends_the_series() {
        let (d, rule) = next("FREQ=DAILY;COUNT=2", due("2026-01-01T10:00:00Z", "UTC")).unwrap();
        assert_eq!(d.at.to_string(), "2026-01-02T10:00:00.000Z");
        assert_eq!(rule.as_str(), "FREQ=DAILY;COUNT=1");
        assert_eq!(rule.next_occurrence(&d).unwrap(), None);
    }

    #[test]
    fn until_ends_the_series() {
        assert!(
            next(
                "FREQ=DAILY;UNTIL=20260102T100000Z",
                due("2026-01-01T10:00:00Z", "UTC")
            )
            .is_some()
        );
        assert!(
            next(
                "FREQ=DAILY;UNTIL=20260101T235959Z",
                due("2026-01-01T10:00:00Z", "UTC")
            )
            .is_none()
        );
    }

    #[test]
    fn rules_are_normalized() {
        let r: Recurrence = "rrule:freq=weekly;byday=mo".parse().unwrap();
        assert_eq!(r.as_str(), "FREQ=WEEKLY;BYDAY=MO");
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            "\"FREQ=WEEKLY;BYDAY=MO\""
        );
    }

    #[test]
    fn bad_rules_are_rejected_with_a_reason() {
        let cases = [
            ("FREQ=HOURLY", RecurrenceError::TooFrequent),
            (
                "FREQ=DAILY;BYHOUR=9",
                RecurrenceError::UnsupportedPart("BYHOUR".into()),
            ),
            ("INTERVAL=2", RecurrenceError::MissingFrequency),
            (
                "FREQ=DAILY;FREQ=WEEKLY",
                RecurrenceError::DuplicatePart("FREQ".into()),
            ),
            ("FREQ=DAILY;COUNT=0", RecurrenceError::BadCount),
            ("FREQ=DAILY;INTERVAL=0", RecurrenceError::BadInterval),
            ("FREQ=DAILY;INTERVAL=-1", RecurrenceError::BadInterval),
            ("FREQ=DAILY;INTERVAL=1001", RecurrenceError::BadInterval),
            ("FREQ=MONTHLY;BYMONTHDAY=0", RecurrenceError::BadMonthDay),
            ("FREQ=MONTHLY;BYMONTHDAY=1,0", RecurrenceError::BadMonthDay),
            ("FREQ=MONTHLY;BYMONTHDAY=32", RecurrenceError::BadMonthDay),
            ("FREQ=MONTHLY;BYMONTHDAY=-32", RecurrenceError::BadMonthDay),
            ("FREQ=WEEKLY;BYDAY=1MO", RecurrenceError::BadWeekday),
            ("FREQ=WEEKLY;BYDAY=-1MO", RecurrenceError::BadWeekday),
            ("BYDAY=2TU;FREQ=DAILY", RecurrenceError::BadWeekday),
            ("FREQ=MONTHLY;BYDAY=0MO", RecurrenceError::BadWeekday),
            ("FREQ=MONTHLY;BYDAY=+0MO", RecurrenceError::BadWeekday),
            ("FREQ=MONTHLY;BYDAY=-0MO", RecurrenceError::BadWeekday),
            ("FREQ=YEARLY;BYDAY=54MO", RecurrenceError::BadWeekday),
            ("FREQ=MONTHLY;BYDAY=1XX", RecurrenceError::BadWeekday),
            (
                "FREQ=WEEKLY;BYDAY=",
                RecurrenceError::Malformed("BYDAY=".into()),
            ),
            (
                "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
                RecurrenceError::CountAndUntil,
            ),
            ("FREQ", RecurrenceError::Malformed("FREQ".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Recurrence>(), Err(expected), "{text}");
        }
        assert!(matches!(
            "FREQ=SOMETIMES".parse::<Recurrence>(),
            Err(RecurrenceError::Invalid(_))
        ));
        assert_eq!(
            "FREQ=WEEKLY;BYDAY=XX".parse::<Recurrence>(),
            Err(RecurrenceError::BadWeekday)
        );
        assert_eq!(
            "x".repeat(300).parse::<Recurrence>(),
            Err(RecurrenceError::TooLong)
        );
    }

    #[test]
    fn month_days_from_either_end_are_accepted() {
        assert!(
            "FREQ=MONTHLY;BYMONTHDAY=-1,1,31"
                .parse::<Recurrence>()
                .is_ok()
        );
    }

    #[test]
    fn ordinal_weekdays_only_in_monthly_and_yearly_rules() {
        for ok in [
            "FREQ=MONTHLY;BYDAY=2TU,-1FR",
            "FREQ=YEARLY;BYDAY=+53SU",
            "FREQ=WEEKLY;BYDAY=MO,WE",
            "BYDAY=1MO;FREQ=MONTHLY",
        ] {
            assert!(ok.parse::<Recurrence>().is_ok(), "{ok}");
        }
        let (d, _) = next(
            "FREQ=MONTHLY;BYDAY=-1FR",
            due("2030-01-25T09:00:00Z", "UTC"),
        )
        .unwrap();
        assert_eq!(d.at.to_string(), "2030-02-22T09:00:00.000Z");
    }

    #[test]
    fn the_next_occurrence_keeps_the_milliseconds_of_its_anchor() {
        let (d, _) = next("FREQ=DAILY", due("2030-01-01T00:00:00.500Z", "UTC")).unwrap();
        assert_eq!(d.at.to_string(), "2030-01-02T00:00:00.500Z");
    }

    #[test]
    fn a_series_ends_before_year_10000() {
        assert_eq!(
            next("FREQ=YEARLY", due("9999-06-01T10:00:00Z", "UTC")),
            None
        );
        assert_eq!(
            next(
                "FREQ=DAILY",
                due("9999-12-31T12:00:00Z", "Pacific/Kiritimati")
            ),
            None
        );
    }

    #[test]
    fn stored_rules_are_read_leniently_and_checked_on_write() {
        let stored: Recurrence = serde_json::from_str("\"FREQ=DAILY;INTERVAL=0\"").unwrap();
        assert_eq!(stored.as_str(), "FREQ=DAILY;INTERVAL=0");
        assert_eq!(stored.checked(), Err(RecurrenceError::BadInterval));
        let sent: Recurrence = serde_json::from_str("\"rrule:freq=daily\"").unwrap();
        assert_eq!(sent.checked().unwrap().as_str(), "FREQ=DAILY");
    }

    #[test]
    fn until_before_the_due_time_is_invalid_for_that_task() {
        let r: Recurrence = "FREQ=DAILY;UNTIL=20250101T000000Z".parse().unwrap();
        assert!(r.validate_for(&due("2026-01-01T10:00:00Z", "UTC")).is_err());
    }
}
