//! Latency samples and their quantiles, for the load report and the benchmarks.

use std::collections::BTreeMap;
use std::time::Duration;

/// The `q` quantile (0.0..=1.0) of `values` by the nearest rank; NaN when there are none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Milliseconds, as the reports print them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Latencies in milliseconds grouped by a label (a route, a stage).
#[derive(Debug, Default, Clone)]
pub struct Latencies(BTreeMap<String, Vec<f64>>);

impl Latencies {
    pub fn record(&mut self, label: &str, took: Duration) {
        self.0.entry(label.to_string()).or_default().push(ms(took));
    }

    pub fn merge(&mut self, other: Latencies) {
        for (label, mut values) in other.0 {
            self.0.entry(label).or_default().append(&mut values);
        }
    }

    /// `(label, count, p50, p99, max)` per label, in label order.
    pub fn summary(&self) -> Vec<(String, usize, f64, f64, f64)> {
        self.0
            .iter()
            .map(|(label, v)| {
                (
                    label.clone(),
                    v.len(),
                    quantile(v, 0.5),
                    quantile(v, 0.99),
                    quantile(v, 1.0),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn latencies_merge_per_label() {
        let mut a = Latencies::default();
        a.record("GET /tasks", Duration::from_millis(2));
        let mut b = Latencies::default();
        b.record("GET /tasks", Duration::from_millis(4));
        b.record("POST /tasks", Duration::from_millis(8));
        a.merge(b);
        let s = a.summary();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].0.as_str(), s[0].1, s[0].4), ("GET /tasks", 2, 4.0));
        assert_eq!((s[1].0.as_str(), s[1].1), ("POST /tasks", 1));
    }
}
