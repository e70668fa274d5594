//! The ledger of consumed capacity: per table, per index and per partition key, in total and
//! per second, and the admission check that throttles a key past its per-second limit.
//!
//! DynamoDB limits each partition, of a table and of each global secondary index, to 1,000
//! write units and 3,000 read units a second; a key that takes more is throttled however much
//! capacity the table has ("each individual partition is limited to 1,000 write units per
//! second and 3,000 read units per second", "Understanding DynamoDB warm throughput in
//! different scenarios",
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html>).
//! One partition key lives in one partition, so a key's units per second are a lower bound of
//! its partition's: the peak per key is what says whether a design has a hot key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Where units are consumed: a partition key of a table, or of one of its indexes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Partition {
    pub table: String,
    /// `None` for the table itself.
    pub index: Option<String>,
    /// The partition key's value (a Scan's: [`SCAN_KEY`]).
    pub key: String,
}

/// The pseudo-key a Scan is charged to: it reads every partition, no key in particular.
pub const SCAN_KEY: &str = "(scan)";

/// Read or write units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Read,
    Write,
}

/// Units a request consumed on one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct Charge {
    pub partition: Partition,
    pub kind: Kind,
    pub units: f64,
}

/// A partition key's per-second limits (`--dynamodb-partition-limits WRITE,READ`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PartitionLimits {
    pub write: f64,
    pub read: f64,
}

impl Default for PartitionLimits {
    /// AWS's: 1,000 write units and 3,000 read units a second (see the module's doc).
    fn default() -> Self {
        Self {
            write: 1000.0,
            read: 3000.0,
        }
    }
}

impl PartitionLimits {
    fn of(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Read => self.read,
            Kind::Write => self.write,
        }
    }
}

impl std::str::FromStr for PartitionLimits {
    type Err = String;

    /// `WRITE,READ` units a second, each a positive number: `1000,3000`.
    fn from_str(s: &str) -> Result<Self, String> {
        let unit = |part: Option<&str>, what: &str| -> Result<f64, String> {
            let part = part.ok_or(format!("expected WRITE,READ (e.g. 1000,3000), got `{s}`"))?;
            match part.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
                _ => Err(format!(
                    "{what} limit `{part}` is not a positive number of units a second"
                )),
            }
        };
        let mut parts = s.split(',');
        let limits = Self {
            write: unit(parts.next(), "write")?,
            read: unit(parts.next(), "read")?,
        };
        match parts.next() {
            None => Ok(limits),
            Some(_) => Err(format!("expected WRITE,READ (e.g. 1000,3000), got `{s}`")),
        }
    }
}

/// One kind of units on one partition: the total, and the busiest second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meter {
    pub units: f64,
    pub peak_per_second: f64,
    /// The second (since the ledger started) that `in_second` counts.
    #[serde(skip)]
    second: u64,
    #[serde(skip)]
    in_second: f64,
}

impl Meter {
    fn add(&mut self, second: u64, units: f64) {
        if second != self.second {
            self.second = second;
            self.in_second = 0.0;
        }
        self.units += units;
        self.in_second += units;
        self.peak_per_second = self.peak_per_second.max(self.in_second);
    }

    fn in_second(&self, second: u64) -> f64 {
        if second == self.second {
            self.in_second
        } else {
            0.0
        }
    }
}

/// A partition's read and write units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub read: Meter,
    pub write: Meter,
}

impl Usage {
    fn meter(&mut self, kind: Kind) -> &mut Meter {
        match kind {
            Kind::Read => &mut self.read,
            Kind::Write => &mut self.write,
        }
    }
}

/// Why a request is refused: the partition that has used its limit this second.
#[derive(Clone, Debug, PartialEq)]
pub struct Throttle {
    pub partition: Partition,
    pub kind: Kind,
    pub used: f64,
    pub limit: f64,
}

/// Every partition's usage since the ledger started (or was reset).
pub struct Ledger {
    started: Instant,
    usage: Mutex<HashMap<Partition, Usage>>,
    throttled: Mutex<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            usage: Mutex::default(),
            throttled: Mutex::default(),
        }
    }
}

impl Ledger {
    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Adds a request's charges.
    pub fn record(&self, charges: &[Charge]) {
        let second = self.second();
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        for c in charges {
            usage
                .entry(c.partition.clone())
                .or_default()
                .meter(c.kind)
                .add(second, c.units);
        }
    }

    /// The first of `touched` that has used its limit in the current second, as DynamoDB
    /// refuses a request to a key past its limit (counted when it is refused).
    pub fn refuse(
        &self,
        touched: &[(Partition, Kind)],
        limits: PartitionLimits,
    ) -> Option<Throttle> {
        let second = self.second();
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let throttle = touched.iter().find_map(|(partition, kind)| {
            let used = usage
                .entry(partition.clone())
                .or_default()
                .meter(*kind)
                .in_second(second);
            let limit = limits.of(*kind);
            (used >= limit).then(|| Throttle {
                partition: partition.clone(),
                kind: *kind,
                used,
                limit,
            })
        });
        if throttle.is_some() {
            *self.throttled.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        throttle
    }

    /// Every partition that consumed anything, and how many requests were throttled.
    pub fn snapshot(&self) -> (Vec<(Partition, Usage)>, u64) {
        let usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = usage
            .iter()
            .filter(|(_, u)| u.read.units > 0.0 || u.write.units > 0.0)
            .map(|(p, u)| (p.clone(), *u))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        (
            all,
            *self.throttled.lock().unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Forgets everything: a run measures from here.
    pub fn reset(&self) {
        self.usage.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.throttled.lock().unwrap_or_else(|e| e.into_inner()) = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Partition {
        Partition {
            table: "T".into(),
            index: None,
            key: k.into(),
        }
    }

    fn write(k: &str, units: f64) -> Charge {
        Charge {
            partition: key(k),
            kind: Kind::Write,
            units,
        }
    }

    #[test]
    fn a_key_is_refused_once_it_used_its_limit_this_second_and_others_are_not() {
        let ledger = Ledger::default();
        let limits = PartitionLimits {
            write: 3.0,
            read: 10.0,
        };
        ledger.record(&[write("hot", 2.0), write("cold", 1.0)]);
        assert_eq!(ledger.refuse(&[(key("hot"), Kind::Write)], limits), None);
        ledger.record(&[write("hot", 1.0)]);
        let refused = ledger.refuse(
            &[(key("cold"), Kind::Write), (key("hot"), Kind::Write)],
            limits,
        );
        assert_eq!(
            refused.map(|t| (t.partition.key, t.used)),
            Some(("hot".into(), 3.0))
        );
        assert_eq!(ledger.refuse(&[(key("hot"), Kind::Read)], limits), None);
        let (usage, throttled) = ledger.snapshot();
        assert_eq!(throttled, 1);
        let hot = usage.iter().find(|(p, _)| p.key == "hot").unwrap().1;
        assert_eq!((hot.write.units, hot.write.peak_per_second), (3.0, 3.0));
    }

    #[test]
    fn the_peak_is_the_busiest_second() {
        let mut m = Meter::default();
        m.add(0, 2.0);
        m.add(0, 3.0);
        m.add(1, 1.0);
        m.add(3, 4.0);
        assert_eq!((m.units, m.peak_per_second), (10.0, 5.0));
        assert_eq!((m.in_second(3), m.in_second(4)), (4.0, 0.0));
    }

    #[test]
    fn limits_read_as_write_comma_read() {
        let limits: PartitionLimits = "1000,3000".parse().unwrap();
        assert_eq!(limits, PartitionLimits::default());
        assert!("5,".parse::<PartitionLimits>().is_err());
        assert!("0,10".parse::<PartitionLimits>().is_err());
        assert!("1,2,3".parse::<PartitionLimits>().is_err());
        assert!("ten,10".parse::<PartitionLimits>().is_err());
    }
}
