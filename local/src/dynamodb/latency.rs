//! Latency the front adds before passing each call on (`--dynamodb-latency`).
//!
//! The embedded engine answers in microseconds; DynamoDB in AWS in milliseconds. Code whose
//! speed depends on how many calls it makes one after another (a sweep that records reminders
//! one by one, a start-up that reads a secret) looks fast here unless each call costs what it
//! costs there: the front makes it cost that.

use std::time::Duration;

/// A fixed delay, or a range drawn uniformly per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    min: Duration,
    max: Duration,
}

impl Latency {
    /// The same delay for every call.
    pub fn fixed(delay: Duration) -> Self {
        Self {
            min: delay,
            max: delay,
        }
    }

    /// The delay for one call.
    pub fn draw(&self) -> Duration {
        let span = (self.max - self.min).as_micros() as u64;
        self.min + Duration::from_micros(fastrand::u64(0..=span))
    }
}

impl std::str::FromStr for Latency {
    type Err = String;

    /// `5ms`, `1.5ms`, `250us`, `1s`, or a range `2ms..10ms`.
    fn from_str(s: &str) -> Result<Self, String> {
        let one = |part: &str| -> Result<Duration, String> {
            let part = part.trim();
            let split = part
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or(format!("`{part}` has no unit: say 5ms, 250us or 1s"))?;
            let (number, unit) = part.split_at(split);
            let number: f64 = number
                .parse()
                .map_err(|_| format!("`{part}` is not a number followed by a unit (5ms)"))?;
            let seconds = match unit {
                "s" => number,
                "ms" => number / 1e3,
                "us" | "µs" => number / 1e6,
                _ => {
                    return Err(format!(
                        "unknown unit `{unit}` in `{part}`: use s, ms or us"
                    ));
                }
            };
            Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{part}`: {e}"))
        };
        let (min, max) = match s.split_once("..") {
            Some((low, high)) => (one(low)?, one(high)?),
            None => (one(s)?, one(s)?),
        };
        if min > max {
            return Err(format!("the range `{s}` ends before it starts"));
        }
        Ok(Self { min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_delay_or_a_range() {
        let ms = Duration::from_millis;
        assert_eq!("5ms".parse(), Ok(Latency::fixed(ms(5))));
        assert_eq!(
            "1.5ms".parse(),
            Ok(Latency::fixed(Duration::from_micros(1500)))
        );
        assert_eq!(
            "250us".parse(),
            Ok(Latency::fixed(Duration::from_micros(250)))
        );
        assert_eq!(
            "2ms..10ms".parse(),
            Ok(Latency {
                min: ms(2),
                max: ms(10)
            })
        );
        for bad in ["5", "fast", "5 parsecs", "10ms..2ms", "-1ms", ""] {
            assert!(bad.parse::<Latency>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_range_draws_within_its_bounds() {
        let range: Latency = "2ms..3ms".parse().unwrap();
        for _ in 0..100 {
            let d = range.draw();
            assert!(d >= Duration::from_millis(2) && d <= Duration::from_millis(3));
        }
        assert_eq!(
            Latency::fixed(Duration::from_millis(5)).draw(),
            Duration::from_millis(5)
        );
    }
}
