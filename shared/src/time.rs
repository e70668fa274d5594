//! Instants and time zones as they appear on the wire and in storage.
//!
//! Every stored instant is UTC RFC 3339 with millisecond precision and a fixed width
//! (`2026-03-29T07:00:00.000Z`), so that string order is time order: DynamoDB sort keys and
//! range conditions rely on that. Time zones are IANA names, validated against the tz database.
//!
//! The fixed width holds only for years 0000 through 9999 in UTC: chrono writes year 10000 as
//! `+10000-...` and year -1 as `-0001-...`, which sort before every ordinary instant and which
//! RFC 3339 parsers (chrono's included) refuse to read back. A [`Timestamp`] therefore cannot
//! hold an instant outside that range: parsing and every conversion check it, so an offset that
//! pushes `9999-12-31T23:59:59-01:00` past the end is refused at the edge instead of being stored.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant, millisecond precision, serialized as fixed-width RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// The first instant of year 0000 and the last millisecond of year 9999, in Unix milliseconds.
const MIN_MILLIS: i64 = -62_167_219_200_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// The earliest instant the system stores: `0000-01-01T00:00:00.000Z`.
    pub const MIN: Timestamp = Timestamp(match DateTime::from_timestamp_millis(MIN_MILLIS) {
        Some(dt) => dt,
        None => DateTime::<Utc>::MIN_UTC,
    });
    /// The latest instant the system stores: `9999-12-31T23:59:59.999Z`.
    pub const MAX: Timestamp = Timestamp(match DateTime::from_timestamp_millis(MAX_MILLIS) {
        Some(dt) => dt,
        None => DateTime::<Utc>::MAX_UTC,
    });

    /// The current time, truncated to milliseconds so that a value survives a round trip.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now()).unwrap_or(Self::MAX)
    }

    /// Wraps a chrono instant, truncated to milliseconds, if it lies within years 0000-9999.
    pub fn from_datetime(dt: DateTime<Utc>) -> Result<Self, TimestampError> {
        let millis = dt.timestamp_millis();
        if !(MIN_MILLIS..=MAX_MILLIS).contains(&millis) {
            return Err(TimestampError::OutOfRange);
        }
        DateTime::from_timestamp_millis(millis)
            .map(Self)
            .ok_or(TimestampError::OutOfRange)
    }

    /// One millisecond later (the smallest step a stored instant can take); `MAX` stays `MAX`.
    ///
    /// A task's next change is stamped at least this late, so its times never go backwards.
    pub fn successor(&self) -> Self {
        Self::from_datetime(self.0 + chrono::Duration::milliseconds(1)).unwrap_or(*self)
    }

    /// The instant as chrono's type, for arithmetic.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Seconds since the Unix epoch (DynamoDB TTL attributes use this).
    pub fn epoch_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    /// `wait` after this instant, or [`Timestamp::MAX`] when that is past year 9999 (a retry
    /// time: "never" is the right reading of one that far).
    pub fn after(&self, wait: std::time::Duration) -> Self {
        chrono::Duration::from_std(wait)
            .ok()
            .and_then(|w| self.0.checked_add_signed(w))
            .and_then(|dt| Self::from_datetime(dt).ok())
            .unwrap_or(Self::MAX)
    }

    /// `span` before this instant, or [`Timestamp::MIN`] when that is before year 0000.
    pub fn before(&self, span: std::time::Duration) -> Self {
        chrono::Duration::from_std(span)
            .ok()
            .and_then(|w| self.0.checked_sub_signed(w))
            .and_then(|dt| Self::from_datetime(dt).ok())
            .unwrap_or(Self::MIN)
    }

    /// This instant moved by a signed number of minutes; `None` when that leaves years 0000-9999.
    pub fn plus_minutes(&self, minutes: i64) -> Option<Self> {
        self.0
            .checked_add_signed(chrono::Duration::minutes(minutes))
            .and_then(|dt| Self::from_datetime(dt).ok())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

/// Why a timestamp was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    #[error("must be an RFC 3339 date-time with an offset, such as 2026-03-29T09:00:00+02:00")]
    Format,
    #[error(
        "must lie between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z once converted to UTC"
    )]
    OutOfRange,
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let dt = DateTime::parse_from_rfc3339(s).map_err(|_| TimestampError::Format)?;
        Self::from_datetime(dt.with_timezone(&Utc))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone such as `Europe/Berlin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// The chrono-tz zone, for local-time arithmetic.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// Why a time zone was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown time zone {0:?}: use an IANA name such as Europe/Berlin")]
pub struct TimeZoneError(pub String);

impl FromStr for TimeZone {
    type Err = TimeZoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| TimeZoneError(s.chars().take(64).collect()))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_normalize_to_fixed_width_utc() {
        let t: Timestamp = "2026-03-29T09:00:00+02:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-03-29T07:00:00.000Z");
        let fine: Timestamp = "2026-03-29T07:00:00.123456Z".parse().unwrap();
        assert_eq!(fine.to_string(), "2026-03-29T07:00:00.123Z");
    }

    #[test]
    fn timestamps_without_offset_are_rejected() {
        assert!("2026-03-29T09:00:00".parse::<Timestamp>().is_err());
        assert!("tomorrow".parse::<Timestamp>().is_err());
    }

    #[test]
    fn instants_outside_years_0000_to_9999_in_utc_are_refused() {
        for out in [
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:59.999-00:01",
            "0000-01-01T00:00:00+00:01",
            "0000-01-01T00:00:00.000+23:59",
        ] {
            assert_eq!(
                out.parse::<Timestamp>(),
                Err(TimestampError::OutOfRange),
                "{out}"
            );
        }
        let first: Timestamp = "0000-01-01T00:00:00Z".parse().unwrap();
        let last: Timestamp = "9999-12-31T23:59:59.999Z".parse().unwrap();
        assert_eq!((first, last), (Timestamp::MIN, Timestamp::MAX));
        assert_eq!(first.to_string(), "0000-01-01T00:00:00.000Z");
        assert_eq!(last.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(last.successor(), last);
        assert_eq!(last.plus_minutes(1), None);
        assert_eq!(first.plus_minutes(-1), None);
        assert_eq!(first.successor().to_string(), "0000-01-01T00:00:00.001Z");
        assert!(first.to_string() < last.to_string());
    }

    #[test]
    fn string_order_is_time_order() {
        let a: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-01-01T00:00:00.5Z".parse().unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn time_zones_are_iana_names() {
        let tz: TimeZone = "Europe/Berlin".parse().unwrap();
        assert_eq!(serde_json::to_string(&tz).unwrap(), "\"Europe/Berlin\"");
        assert!("Mars/Olympus".parse::<TimeZone>().is_err());
        assert!(serde_json::from_str::<TimeZone>("\"CEST\"").is_err());
    }
}
