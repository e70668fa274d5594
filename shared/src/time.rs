//! Instants and time zones as they appear on the wire and in storage.
//!
//! Every stored instant is UTC RFC 3339 with millisecond precision and a fixed width
//! (`2026-03-29T07:00:00.000Z`), so that string order is time order: DynamoDB sort keys and
//! range conditions rely on that. Time zones are IANA names, validated against the tz database.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant, millisecond precision, serialized as fixed-width RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to milliseconds so that a value survives a round trip.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps a chrono instant, truncating it to milliseconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        let millis = dt.timestamp_millis();
        Self(DateTime::from_timestamp_millis(millis).unwrap_or(dt))
    }

    /// The instant as chrono's type, for arithmetic.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Seconds since the Unix epoch (DynamoDB TTL attributes use this).
    pub fn epoch_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    /// This instant moved by a signed number of minutes; `None` when out of chrono's range.
    pub fn plus_minutes(&self, minutes: i64) -> Option<Self> {
        self.0
            .checked_add_signed(chrono::Duration::minutes(minutes))
            .map(Self)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

/// Why a timestamp was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("must be an RFC 3339 date-time with an offset, such as 2026-03-29T09:00:00+02:00")]
pub struct TimestampError;

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s)
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .map_err(|_| TimestampError)
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
