//! Quiet hours: a daily stretch of wall-clock time, in the user's own time zone, during which
//! the interrupting channels (e-mail and Web Push) hold reminders back. A reminder that comes
//! due inside them is deferred, never dropped: it goes out when they end.
//!
//! Wall-clock, not a fixed UTC span: "22:00 to 07:00 in Europe/Berlin" ends at 05:00 UTC in
//! summer and 06:00 UTC in winter, and on the night the clocks change it is an hour shorter or
//! longer. An end that the clocks skip (02:30 on a spring-forward night) ends at the first
//! instant after the gap; an end the clocks pass twice ends the first time, or the second when
//! the reminder came due between the two.

use std::fmt;

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone as _, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{FieldError, TimeZone, Timestamp};

/// A minute of the day, written `HH:MM` (24-hour, zero-padded: one spelling per time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(NaiveTime);

impl ClockTime {
    /// `hour:minute`, if it is a minute of the day.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }
}

impl std::str::FromStr for ClockTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            let shown: String = s.chars().take(16).collect();
            format!("{shown:?} is not a time of day: use HH:MM, such as 07:30")
        };
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
            return Err(bad());
        }
        let hour = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
        let minute = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
        Self::new(hour, minute).ok_or_else(bad)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The user's quiet hours: from `start` until `end` every day, in `time_zone`. A `start` later
/// than `end` spans midnight (22:00 to 07:00).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: ClockTime,
    pub end: ClockTime,
    pub time_zone: TimeZone,
}

impl QuietHours {
    /// Why these cannot be stored (a span of no time is a mistake, not "never quiet").
    pub fn problems(&self) -> Vec<FieldError> {
        if self.start == self.end {
            return vec![FieldError::new(
                "quiet_hours.end",
                "invalid",
                "must differ from start (leave quiet_hours out for none)",
            )];
        }
        Vec::new()
    }

    /// When the quiet hours that hold `now` end; `None` when `now` is not in quiet hours.
    pub fn until(&self, now: Timestamp) -> Option<Timestamp> {
        let tz = self.time_zone.tz();
        let local = now.as_datetime().with_timezone(&tz).naive_local();
        let t = local.time();
        let (start, end) = (self.start.0, self.end.0);
        let quiet = if start < end {
            start <= t && t < end
        } else {
            t >= start || t < end
        };
        if !quiet {
            return None;
        }
        // The end is today's when it is still ahead on the clock, else tomorrow's.
        let day = if t < end {
            local.date()
        } else {
            local.date().succ_opt()?
        };
        self.end_on(day, now)
    }

    /// The first instant after `now` at which the clocks of `day` read `end` (or, when they
    /// skip it, the first instant after the gap).
    fn end_on(&self, day: NaiveDate, now: Timestamp) -> Option<Timestamp> {
        let tz = self.time_zone.tz();
        let naive = day.and_time(self.end.0);
        let now = now.as_datetime();
        // A gap is never longer than a few hours; a minute's steps find its far side.
        for step in 0..=24 * 60 {
            let wall = naive.checked_add_signed(Duration::minutes(step))?;
            let mapped = tz.from_local_datetime(&wall);
            let Some(earliest) = mapped.earliest() else {
                continue;
            };
            let latest = mapped.latest().unwrap_or(earliest);
            let end = [earliest, latest]
                .into_iter()
                .map(|dt| dt.with_timezone(&chrono::Utc))
                .find(|dt| *dt > now)?;
            return Timestamp::from_datetime(end).ok();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(start: &str, end: &str, zone: &str) -> QuietHours {
        QuietHours {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            time_zone: zone.parse().unwrap(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clock_times_have_one_spelling() {
        assert_eq!("07:05".parse::<ClockTime>().unwrap().to_string(), "07:05");
        assert_eq!(
            "00:00".parse::<ClockTime>(),
            Ok(ClockTime::new(0, 0).unwrap())
        );
        assert_eq!(
            "23:59".parse::<ClockTime>(),
            Ok(ClockTime::new(23, 59).unwrap())
        );
        for bad in [
            "7:05",
            "07:5",
            "24:00",
            "12:60",
            "07-05",
            "07:05:00",
            "",
            "ab:cd",
            "+7:05",
            "٠٧:٠٥",
        ] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn outside_quiet_hours_nothing_waits() {
        let q = quiet("22:00", "07:00", "Europe/Berlin");
        // 12:00 and 21:59 and 07:00 in Berlin (winter, UTC+1).
        for now in [
            "2026-01-15T11:00:00.000Z",
            "2026-01-15T20:59:00.000Z",
            "2026-01-15T06:00:00.000Z",
        ] {
            assert_eq!(q.until(at(now)), None, "{now}");
        }
        let day = quiet("09:00", "17:00", "UTC");
        assert_eq!(day.until(at("2026-01-15T08:59:59.999Z")), None);
        assert_eq!(day.until(at("2026-01-15T17:00:00.000Z")), None);
    }

    #[test]
    fn inside_they_end_at_the_next_end_on_the_users_clock() {
        let q = quiet("22:00", "07:00", "Europe/Berlin");
        // 22:00 exactly, and 23:30 (winter): tomorrow 07:00 CET = 06:00 UTC.
        assert_eq!(
            q.until(at("2026-01-15T21:00:00.000Z")),
            Some(at("2026-01-16T06:00:00.000Z"))
        );
        assert_eq!(
            q.until(at("2026-01-15T22:30:00.000Z")),
            Some(at("2026-01-16T06:00:00.000Z"))
        );
        // 03:00 after midnight: the same day's 07:00.
        assert_eq!(
            q.until(at("2026-01-16T02:00:00.000Z")),
            Some(at("2026-01-16T06:00:00.000Z"))
        );
        // Summer: 07:00 CEST = 05:00 UTC.
        assert_eq!(
            q.until(at("2026-07-01T21:30:00.000Z")),
            Some(at("2026-07-02T05:00:00.000Z"))
        );
        let day = quiet("09:00", "17:00", "America/New_York");
        assert_eq!(
            day.until(at("2026-01-15T14:00:00.000Z")),
            Some(at("2026-01-15T22:00:00.000Z"))
        );
    }

    #[test]
    fn across_a_dst_change_the_end_follows_the_users_clock() {
        let q = quiet("22:00", "07:00", "Europe/Berlin");
        // Spring forward (2026-03-29, 02:00 CET -> 03:00 CEST): 23:30 CET on the 28th waits
        // until 07:00 CEST, 05:00 UTC, a night an hour shorter.
        assert_eq!(
            q.until(at("2026-03-28T22:30:00.000Z")),
            Some(at("2026-03-29T05:00:00.000Z"))
        );
        // Fall back (2026-10-25, 03:00 CEST -> 02:00 CET): 23:30 CEST on the 24th waits until
        // 07:00 CET, 06:00 UTC, a night an hour longer.
        assert_eq!(
            q.until(at("2026-10-24T21:30:00.000Z")),
            Some(at("2026-10-25T06:00:00.000Z"))
        );
    }

    #[test]
    fn an_end_the_clocks_skip_or_repeat_still_ends_once_and_after_now() {
        // New York springs forward on 2026-03-08 at 02:00 EST to 03:00 EDT: 02:30 never
        // happens, so quiet hours ending then end at 03:00 EDT (07:00 UTC).
        let skipped = quiet("23:00", "02:30", "America/New_York");
        assert_eq!(
            skipped.until(at("2026-03-08T06:00:00.000Z")),
            Some(at("2026-03-08T07:00:00.000Z"))
        );
        // It falls back on 2026-11-01 at 02:00 EDT to 01:00 EST: 01:30 happens twice. A
        // reminder at 00:30 EDT waits for the first (05:30 UTC), one at 01:15 EST, between
        // the two, for the second (06:30 UTC).
        let repeated = quiet("00:00", "01:30", "America/New_York");
        assert_eq!(
            repeated.until(at("2026-11-01T04:30:00.000Z")),
            Some(at("2026-11-01T05:30:00.000Z"))
        );
        assert_eq!(
            repeated.until(at("2026-11-01T06:15:00.000Z")),
            Some(at("2026-11-01T06:30:00.000Z"))
        );
    }

    #[test]
    fn at_the_edges_of_time_nothing_panics() {
        let q = quiet("22:00", "07:00", "Pacific/Kiritimati");
        assert_eq!(
            q.until(Timestamp::MAX),
            None,
            "no tomorrow after 9999-12-31"
        );
        let _ = q.until(Timestamp::MIN);
        let q = quiet("00:00", "23:59", "Etc/GMT+12");
        assert!(q.until(Timestamp::MIN).is_some());
    }

    #[test]
    fn a_span_of_no_time_is_refused_and_the_wire_shape_is_strict() {
        assert_eq!(
            quiet("07:00", "07:00", "UTC").problems()[0].field,
            "quiet_hours.end"
        );
        assert!(quiet("07:00", "07:01", "UTC").problems().is_empty());
        let parsed: QuietHours = serde_json::from_str(
            r#"{"start": "22:00", "end": "07:00", "time_zone": "Europe/Berlin"}"#,
        )
        .unwrap();
        assert_eq!(parsed, quiet("22:00", "07:00", "Europe/Berlin"));
        for bad in [
            r#"{"start": "22:00", "end": "07:00"}"#,
            r#"{"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}"#,
            r#"{"start": "22", "end": "07:00", "time_zone": "UTC"}"#,
            r#"{"start": "22:00", "end": "07:00", "time_zone": "UTC", "days": []}"#,
            r#"{"start": 2200, "end": "07:00", "time_zone": "UTC"}"#,
        ] {
            assert!(serde_json::from_str::<QuietHours>(bad).is_err(), "{bad}");
        }
    }
}
