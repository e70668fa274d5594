//! The load run's report: what was driven, how fast, and whether the verification held.

use std::fmt;

use crate::drive::DriveOutcome;
use crate::stats::quantile;

/// `p50 X ms, p99 Y ms, max Z ms`, or `no samples`.
fn spread(values: &[f64]) -> String {
    if values.is_empty() {
        return "no samples".into();
    }
    format!(
        "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        quantile(values, 0.5),
        quantile(values, 0.99),
        quantile(values, 1.0)
    )
}
use crate::verify::Verification;

/// Everything a load run measured and found.
#[derive(Debug)]
pub struct Report {
    pub commands: usize,
    pub users: usize,
    pub concurrency: usize,
    pub drive: DriveOutcome,
    pub verification: Verification,
    /// POST /tasks to its entry in the task's audit history, ms.
    pub audit_delays_ms: Vec<f64>,
    pub unaudited_probes: usize,
    pub tolerate_faults: bool,
    /// Each task's owner (task id to user name), to tell one user's keys in the capacity
    /// report.
    pub task_owners: std::collections::HashMap<String, String>,
}

impl Report {
    /// Every broken promise: failed commands, 5xx answers (unless the run injected faults),
    /// lost or doubled changes and reminders.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.drive.failures.clone();
        let server_errors: usize = self
            .drive
            .statuses
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, c)| c)
            .sum();
        if server_errors > 0 && !self.tolerate_faults {
            problems.push(format!("{server_errors} answers with a 5xx status"));
        }
        if self.unaudited_probes > 0 {
            problems.push(format!(
                "{} timed creates never reached their audit history",
                self.unaudited_probes
            ));
        }
        problems.extend(self.verification.problems.iter().cloned());
        problems
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.drive.took.as_secs_f64();
        writeln!(
            f,
            "drove {} commands from {} users at concurrency {} in {:.1} s: {:.0} commands/s",
            self.commands,
            self.users,
            self.concurrency,
            secs,
            self.commands as f64 / secs.max(f64::EPSILON)
        )?;
        let statuses: Vec<String> = self
            .drive
            .statuses
            .iter()
            .map(|(s, c)| format!("{s}: {c}"))
            .collect();
        writeln!(
            f,
            "answers {{{}}}, no answer: {}, retried: {}, idempotent replays: {}",
            statuses.join(", "),
            self.drive.transport_errors,
            self.drive.retries,
            self.drive.replays
        )?;
        writeln!(
            f,
            "{:<28} {:>7} {:>9} {:>9} {:>9}",
            "route", "count", "p50 ms", "p99 ms", "max ms"
        )?;
        for (label, count, p50, p99, max) in self.drive.latencies.summary() {
            writeln!(f, "{label:<28} {count:>7} {p50:>9.1} {p99:>9.1} {max:>9.1}")?;
        }
        let a = &self.audit_delays_ms;
        writeln!(
            f,
            "POST -> audit history ({} sampled creates): {}",
            a.len(),
            spread(a)
        )?;
        let v = &self.verification;
        let r = &v.reminder_delays_ms;
        writeln!(f, "reminder time -> inbox ({}): {}", r.len(), spread(r))?;
        writeln!(
            f,
            "{} {:.1} s; committed changes {} / audit entries {}; reminders expected {} / in the inboxes {}",
            if v.drained {
                "drained in"
            } else {
                "DRAIN TIMED OUT after"
            },
            v.drained_after.as_secs_f64(),
            v.committed,
            v.audited,
            v.reminders_expected,
            v.reminders_found
        )?;
        let problems = self.problems();
        if problems.is_empty() {
            write!(
                f,
                "verified: nothing lost, nothing doubled, every change in commit order"
            )
        } else {
            writeln!(f, "{} PROBLEMS:", problems.len())?;
            for p in problems.iter().take(30) {
                writeln!(f, "  {p}")?;
            }
            write!(f, "  ...")
        }
    }
}
