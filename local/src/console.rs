//! What `todo-local` prints while it runs: one line per invocation that did something, a
//! failure that stands out with the function's own warning and error lines under it, nothing
//! for a schedule run that found nothing (counted instead), and a one-line summary of each 30 s
//! of activity. `--verbose` prints every invocation, as the console did before.
//!
//! An invocation is read from what the function wrote while it ran (its lines, which the
//! runtime hands over): the embedded-metric lines say what it did (`Applied`, `Failed`, ...),
//! and its JSON log lines (the template's `LogFormat: JSON`) their level. The function's full
//! log is in its file (`todo-local logs FUNCTION`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::esm::stats::MappingStats;
use crate::runtime::{Invocation, Outcome};

/// The counts that mean something went wrong (the metrics the template's alarms watch).
const FAILURE_COUNTS: [&str; 6] = [
    "Failed",
    "PostFailed",
    "DeadLettered",
    "ParkedAgain",
    "Unreadable",
    "KeysUnavailable",
];

/// The most warning and error lines of one function printed as they happen, each second.
const LIVE_PER_SECOND: u32 = 5;

/// The most warning and error lines printed under a failure (its log file has the rest).
const SHOWN_LINES: usize = 8;

/// What an invocation's lines say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Each embedded metric's total, by `Function` and name (`"publisher"`, `"Applied"`).
    pub counts: BTreeMap<(String, String), u64>,
    /// Its warning and error lines, made readable (`WARN message key=value ...`).
    pub problems: Vec<String>,
}

impl Reading {
    /// Reads the lines a function wrote during one invocation.
    pub fn of(lines: &[String]) -> Self {
        let mut reading = Self::default();
        for line in lines {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(object)) if object.contains_key("_aws") => {
                    reading.metrics(&Value::Object(object))
                }
                Ok(Value::Object(object)) => {
                    let level = object
                        .get("level")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if matches!(level, "WARN" | "ERROR") {
                        reading.problems.push(readable(level, &object));
                    }
                }
                // A line the runtime's formatter did not write: a panic, or text logs.
                _ => {
                    let text = line.trim_start();
                    if text.starts_with("ERROR")
                        || text.starts_with("WARN")
                        || text.contains("panicked at")
                    {
                        reading.problems.push(text.to_string());
                    }
                }
            }
        }
        reading
    }

    fn metrics(&mut self, line: &Value) {
        let function = line["Function"].as_str().unwrap_or_default().to_string();
        let directives = line["_aws"]["CloudWatchMetrics"].as_array();
        for metric in directives
            .into_iter()
            .flatten()
            .filter_map(|d| d["Metrics"].as_array())
        {
            for name in metric.iter().filter_map(|m| m["Name"].as_str()) {
                let value = line[name].as_f64().unwrap_or_default().max(0.0) as u64;
                *self
                    .counts
                    .entry((function.clone(), name.to_string()))
                    .or_default() += value;
            }
        }
    }

    /// The total of one metric name, over every function that emitted it.
    pub fn total(&self, name: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((_, n), _)| n == name)
            .map(|(_, v)| v)
            .sum()
    }

    /// True when a metric says something was done or went wrong.
    pub fn did_something(&self) -> bool {
        self.counts.values().any(|v| *v > 0)
    }
}

/// `LEVEL message key=value ...` of a JSON log line.
fn readable(level: &str, object: &serde_json::Map<String, Value>) -> String {
    let mut text = level.to_string();
    if let Some(fields) = object.get("fields").and_then(Value::as_object) {
        if let Some(message) = fields.get("message").and_then(Value::as_str) {
            text.push(' ');
            text.push_str(message);
        }
        for (key, value) in fields.iter().filter(|(k, _)| *k != "message") {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            text.push_str(&format!(" {key}={value}"));
        }
    }
    text
}

/// Where an invocation came from, by its trigger's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Schedule,
    Mapping,
    /// An HTTP or WebSocket API request.
    Request,
    /// The WebSocket API's `$connect` authorizer.
    Authorizer,
    /// A custom resource or a topic subscription.
    Other,
}

impl Source {
    fn of(trigger: &str) -> Self {
        if trigger.starts_with("schedule") {
            Self::Schedule
        } else if trigger.starts_with("msk ") || trigger.starts_with("stream ") {
            Self::Mapping
        } else if trigger.starts_with("Custom::") || trigger.starts_with("sns") {
            Self::Other
        } else if trigger.ends_with("authorizer") {
            Self::Authorizer
        } else {
            Self::Request
        }
    }
}

/// The start of an invocation's line: time, function and its environment, trigger, duration
/// (and init on a cold start).
fn head(function: &str, trigger: &str, i: &Invocation) -> String {
    let init = i
        .init
        .map(|d| format!(" (init {} ms)", d.as_millis()))
        .unwrap_or_default();
    let now = chrono::Utc::now().format("%H:%M:%S%.3f");
    // A throttled invocation ran in no environment.
    let function = match i.outcome {
        Outcome::Throttled => function.to_string(),
        _ => format!("{function}#{}", i.environment),
    };
    format!(
        "{now}  {function:<33} {trigger:<32} {:>6} ms{init}",
        i.duration.as_millis()
    )
}

/// The HTTP status an API function answered, if it answered one.
fn status(invocation: &Invocation) -> Option<u64> {
    match &invocation.outcome {
        Outcome::Ok(body) => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["statusCode"].as_u64()),
        _ => None,
    }
}

/// A function error's message (Lambda's `{"errorType", "errorMessage"}`), or its text.
fn error_message(error: &str) -> String {
    let message = serde_json::from_str::<Value>(error)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| error.to_string());
    message.chars().take(300).collect()
}

/// Whether an authorizer refused a token the way API Gateway takes for a 401: by failing with
/// "Unauthorized".
fn refused(source: Source, invocation: &Invocation) -> bool {
    matches!(&invocation.outcome, Outcome::FunctionError(e)
        if source == Source::Authorizer && error_message(e) == "Unauthorized")
}

/// Why an invocation failed, if it did.
fn failure(source: Source, invocation: &Invocation, reading: &Reading) -> Option<String> {
    match &invocation.outcome {
        Outcome::Ok(_) => {
            if source == Source::Request
                && let Some(status) = status(invocation).filter(|s| *s >= 500)
            {
                return Some(format!("answered {status}"));
            }
            let failed: Vec<String> = FAILURE_COUNTS
                .iter()
                .map(|name| (name, reading.total(name)))
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| format!("{name} {n}"))
                .collect();
            if !failed.is_empty() {
                return Some(failed.join(", "));
            }
            reading
                .problems
                .iter()
                .any(|p| p.starts_with("ERROR") || p.contains("panicked at"))
                .then(|| "logged an error".to_string())
        }
        // A Lambda authorizer refuses a token by failing with "Unauthorized" (API Gateway then
        // answers 401): a refusal, not a failure.
        Outcome::FunctionError(e) if refused(source, invocation) => None,
        Outcome::FunctionError(e) => Some(format!("function error: {}", error_message(e))),
        Outcome::Crashed(e) => Some(format!("crashed: {e}")),
        Outcome::TimedOut => Some("timed out".into()),
        Outcome::Throttled => Some("throttled (every environment busy)".into()),
    }
}

/// Activity since the last summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Totals {
    /// Invocations printed (or that would be, without `--verbose`'s extra ones).
    active: u64,
    requests: u64,
    failures: u64,
    events: u64,
    /// Records the channels applied (a reminder or event handled, whatever each far end did).
    channel_records: u64,
    quiet_runs: u64,
    /// Dead letters (the mappings' and those the functions set aside themselves, the
    /// publisher's) counted at the last summary.
    dead_letters_before: u64,
}

/// One invocation as the console page lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Recent {
    pub at: String,
    pub function: String,
    pub environment: usize,
    pub trigger: String,
    pub duration_ms: u128,
    pub init_ms: Option<u128>,
    /// `ok`, or why it failed.
    pub outcome: String,
    pub failed: bool,
    /// What its metrics say it did (`Applied 3`).
    pub did: Vec<String>,
    /// Its warning and error lines.
    pub problems: Vec<String>,
    pub request_id: String,
}

/// A function's invocations since the cloud started.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FunctionTotals {
    pub invocations: u64,
    pub failures: u64,
    /// Its metrics' totals by name.
    pub counts: BTreeMap<String, u64>,
}

/// How many invocations the console page lists.
const RECENT: usize = 200;

/// The console of one local cloud.
pub struct Console {
    verbose: bool,
    color: bool,
    /// Per function: the second its live lines are counted in, how many were printed in it,
    /// and how many were held back since the last one printed.
    live_budget: Mutex<std::collections::HashMap<String, (std::time::Instant, u32, u32)>>,
    totals: Mutex<Totals>,
    recent: Mutex<std::collections::VecDeque<Recent>>,
    functions: Mutex<BTreeMap<String, FunctionTotals>>,
}

impl Console {
    /// A console that prints what matters, or every invocation when `verbose`; in colour
    /// when `color`.
    pub fn new(verbose: bool, color: bool) -> Self {
        Self {
            verbose,
            color,
            totals: Mutex::new(Totals::default()),
            recent: Mutex::default(),
            functions: Mutex::default(),
            live_budget: Mutex::default(),
        }
    }

    /// The latest invocations, newest first.
    pub fn recent(&self) -> Vec<Recent> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().rev().cloned().collect()
    }

    /// Each function's invocations since the cloud started.
    pub fn functions(&self) -> BTreeMap<String, FunctionTotals> {
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Keeps what the page shows of one invocation.
    fn remember(
        &self,
        function: &str,
        trigger: &str,
        invocation: &Invocation,
        reading: &Reading,
        failure: Option<&str>,
    ) {
        {
            let mut functions = self.functions.lock().unwrap_or_else(|p| p.into_inner());
            let totals = functions.entry(function.to_string()).or_default();
            totals.invocations += 1;
            totals.failures += u64::from(failure.is_some());
            for ((_, name), value) in &reading.counts {
                *totals.counts.entry(name.clone()).or_default() += value;
            }
        }
        let recent = Recent {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            function: function.to_string(),
            environment: invocation.environment,
            trigger: trigger.to_string(),
            duration_ms: invocation.duration.as_millis(),
            init_ms: invocation.init.map(|d| d.as_millis()),
            outcome: failure.unwrap_or("ok").to_string(),
            failed: failure.is_some(),
            did: reading
                .counts
                .iter()
                .filter(|(_, v)| **v > 0)
                .map(|((_, name), v)| format!("{name} {v}"))
                .collect(),
            problems: reading.problems.iter().take(SHOWN_LINES).cloned().collect(),
            request_id: invocation.request_id.clone(),
        };
        let mut list = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() == RECENT {
            list.pop_front();
        }
        list.push_back(recent);
    }

    fn totals(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.totals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one invocation and returns what to print for it (one or more lines), if
    /// anything.
    pub fn observe(
        &self,
        function: &str,
        trigger: &str,
        invocation: &Invocation,
    ) -> Option<String> {
        let source = Source::of(trigger);
        let reading = Reading::of(&invocation.log);
        let failure = failure(source, invocation, &reading);
        let quiet = source == Source::Schedule && failure.is_none() && !reading.did_something();
        {
            let mut totals = self.totals();
            totals.requests += u64::from(matches!(source, Source::Request | Source::Authorizer));
            totals.failures += u64::from(failure.is_some());
            totals.quiet_runs += u64::from(quiet);
            totals.active += u64::from(!quiet);
            for ((emitter, name), value) in &reading.counts {
                match (emitter.as_str(), name.as_str()) {
                    ("publisher", "Applied") => totals.events += value,
                    (channel, "Applied") if channel.starts_with("channel-") => {
                        totals.channel_records += value
                    }
                    _ => {}
                }
            }
        }
        if !quiet {
            self.remember(function, trigger, invocation, &reading, failure.as_deref());
        }
        if quiet && !self.verbose {
            return None;
        }
        let line = head(function, trigger, invocation);
        let Some(why) = failure else {
            // An API request's answer is its status (a 4xx is the client's, not a failure).
            let outcome = match (source, status(invocation)) {
                (Source::Request, Some(status)) => status.to_string(),
                _ if refused(source, invocation) => "refused (401)".to_string(),
                _ => "ok".to_string(),
            };
            let done: Vec<String> = reading
                .counts
                .iter()
                .filter(|(_, v)| **v > 0)
                .map(|((_, name), v)| format!("{name} {v}"))
                .collect();
            return Some(match done.as_slice() {
                [] => format!("{line}  {outcome}"),
                done => format!("{line}  {outcome}  ({})", done.join(", ")),
            });
        };
        let (red, plain) = if self.color {
            ("\x1b[1;31m", "\x1b[0m")
        } else {
            ("", "")
        };
        let mut text = format!("{red}FAILED  {line}  {why}{plain}");
        for problem in reading.problems.iter().take(SHOWN_LINES) {
            let problem: String = problem.chars().take(300).collect();
            text.push_str(&format!("\n        | {problem}"));
        }
        if reading.problems.len() > SHOWN_LINES {
            text.push_str(&format!(
                "\n        | ... {} more",
                reading.problems.len() - SHOWN_LINES
            ));
        }
        // A throttled invocation never reached a process: it has no log.
        if !invocation.request_id.is_empty() {
            text.push_str(&format!(
                "\n        | log: todo-local logs {function}   (request {})",
                invocation.request_id
            ));
        }
        Some(text)
    }

    /// What to print for a line a function has just written, before its invocation ends: a
    /// warning or an error, at once (a failing far end shows while its channel still waits
    /// to retry). The invocation's own line repeats it under its failure.
    pub fn live(&self, function: &str, line: &str) -> Option<String> {
        // Most lines are neither: skip them without parsing.
        if !(line.contains("WARN") || line.contains("ERROR") || line.contains("panicked at")) {
            return None;
        }
        let problem = Reading::of(&[line.to_string()]).problems.pop()?;
        // A function logging a warning per record must not flood the console: a few a second
        // each, and how many were held back (its log file has them all).
        let held = {
            let mut budget = self.live_budget.lock().unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            let (since, printed, held) = budget.entry(function.to_string()).or_insert((now, 0, 0));
            if now.duration_since(*since) >= std::time::Duration::from_secs(1) {
                (*since, *printed) = (now, 0);
            }
            if *printed >= LIVE_PER_SECOND {
                *held += 1;
                return None;
            }
            *printed += 1;
            std::mem::take(held)
        };
        let (yellow, plain) = if self.color {
            ("\x1b[33m", "\x1b[0m")
        } else {
            ("", "")
        };
        let problem: String = problem.chars().take(300).collect();
        let held = match held {
            0 => String::new(),
            n => format!("  ({n} more held back: todo-local logs {function})"),
        };
        Some(format!(
            "{yellow}{}  {function} (running): {problem}{held}{plain}",
            chrono::Utc::now().format("%H:%M:%S%.3f")
        ))
    }

    /// The summary of the activity since the last one, when there was any (schedule runs
    /// that found nothing are not activity); the lag and dead letters are the mappings'.
    pub fn summary(&self, mappings: &MappingStats) -> Option<String> {
        let by_functions: u64 = self
            .functions()
            .values()
            .filter_map(|f| f.counts.get("DeadLettered"))
            .sum();
        let mut totals = self.totals();
        let dead_letters = mappings.dead_letters() + by_functions;
        let (lag, worst) = mappings.lag();
        let now = std::mem::take(&mut *totals);
        totals.dead_letters_before = dead_letters;
        let new_dead = dead_letters.saturating_sub(now.dead_letters_before);
        if now.active + new_dead == 0 && lag == 0 {
            return None;
        }
        let worst = worst
            .map(|(key, n)| format!(" (most behind: {key}, {n})"))
            .unwrap_or_default();
        Some(format!(
            "{}  summary: {} invocations, {} requests, {} events published, {} records applied by channels, {} failed invocations, {} dead letters ({} in all), lag {lag}{worst}; {} idle schedule runs",
            chrono::Utc::now().format("%H:%M:%S%.3f"),
            now.active,
            now.requests,
            now.events,
            now.channel_records,
            now.failures,
            new_dead,
            dead_letters,
            now.quiet_runs,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn invocation(outcome: Outcome, log: &[&str]) -> Invocation {
        Invocation {
            outcome,
            duration: Duration::from_millis(3),
            init: None,
            environment: 0,
            request_id: "r-1".into(),
            log: log.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn emf(function: &str, counts: &[(&str, usize)]) -> String {
        todo_lambda::metrics::line("todo-local", function, counts, 0)
    }

    fn ok() -> Outcome {
        Outcome::Ok(b"{}".to_vec())
    }

    /// A schedule run that found nothing prints nothing and is counted; one that did
    /// something prints its line with what it did.
    #[test]
    fn an_idle_schedule_run_is_counted_not_printed() {
        let console = Console::new(false, false);
        let idle = emf("reminder-sweep", &[("Applied", 0), ("Failed", 0)]);
        let line = console.observe(
            "ReminderSweepFunction",
            "schedule",
            &invocation(ok(), &[&idle]),
        );
        assert_eq!(line, None);
        let busy = emf("reminder-sweep", &[("Applied", 3), ("Failed", 0)]);
        let line = console
            .observe(
                "ReminderSweepFunction",
                "schedule",
                &invocation(ok(), &[&busy]),
            )
            .unwrap();
        assert!(
            line.contains("ReminderSweepFunction") && line.ends_with("(Applied 3)"),
            "{line}"
        );
        // --verbose prints every run.
        let verbose = Console::new(true, false);
        assert!(
            verbose
                .observe(
                    "ReminderSweepFunction",
                    "schedule",
                    &invocation(ok(), &[&idle])
                )
                .is_some()
        );
        // A summary only when something happened: the idle run alone is no activity.
        let stats = MappingStats::default();
        let summary = console.summary(&stats).unwrap();
        assert!(
            summary.contains("1 invocations, 0 requests")
                && summary.contains("1 idle schedule runs"),
            "{summary}"
        );
        assert_eq!(console.summary(&stats), None);
        console.observe(
            "ReminderSweepFunction",
            "schedule",
            &invocation(ok(), &[&idle]),
        );
        assert_eq!(console.summary(&stats), None);
    }

    /// A consumer that could not apply its batch, an answer of 5xx, an error returned or a
    /// crash: each a failure line with its reason and the function's problems under it.
    #[test]
    fn a_failure_stands_out_with_its_reason_and_the_functions_own_lines() {
        let console = Console::new(false, false);
        let warn = r#"{"level":"WARN","fields":{"message":"applying stopped","partition":"todo.reminders-0","reason":"webhook answered 503"},"target":"todo_lambda::kafka"}"#;
        let info = r#"{"level":"INFO","fields":{"message":"batch"}}"#;
        let failed = emf("channel-webhook", &[("Applied", 0), ("Failed", 2)]);
        let text = console
            .observe(
                "WebhookChannelFunction",
                "msk todo.reminders-0",
                &invocation(ok(), &[info, warn, &failed]),
            )
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("FAILED") && lines[0].ends_with(" ms  Failed 2"),
            "{text}"
        );
        assert_eq!(
            lines[1],
            "        | WARN applying stopped partition=todo.reminders-0 reason=webhook answered 503"
        );
        assert!(
            lines[2].contains("todo-local logs WebhookChannelFunction") && lines[2].contains("r-1")
        );
        assert_eq!(lines.len(), 3, "the INFO line is not a problem: {text}");

        let answered = |status: u16| {
            let body = format!(r#"{{"statusCode":{status},"body":""}}"#).into_bytes();
            console.observe(
                "GetTaskFunction",
                "GET /tasks/{id}",
                &invocation(Outcome::Ok(body), &[]),
            )
        };
        assert!(answered(503).unwrap().contains(" ms  answered 503"));
        assert!(
            answered(404).unwrap().ends_with(" ms  404"),
            "a 4xx is the client's: {:?}",
            answered(404)
        );

        let panic = "thread 'main' panicked at functions/x.rs:1:1:";
        let crashed = console
            .observe(
                "GetTaskFunction",
                "GET /tasks/{id}",
                &invocation(Outcome::Crashed("the process exited".into()), &[panic]),
            )
            .unwrap();
        assert!(
            crashed.contains(" ms  crashed: the process exited\n") && crashed.contains(panic),
            "{crashed}"
        );
        // An authorizer refusing a token is no failure.
        let refusal = console
            .observe(
                "RealtimeAuthorizerFunction",
                "$connect authorizer",
                &invocation(
                    Outcome::FunctionError(
                        r#"{"errorType":"x","errorMessage":"Unauthorized"}"#.into(),
                    ),
                    &[],
                ),
            )
            .unwrap();
        assert!(refusal.ends_with("refused (401)"), "{refusal}");
        let error = console
            .observe(
                "ReminderSweepFunction",
                "schedule",
                &invocation(Outcome::FunctionError("{\"errorType\":\"x\"}".into()), &[]),
            )
            .unwrap();
        assert!(
            error.starts_with("FAILED") && error.contains("function error"),
            "{error}"
        );

        let summary = console.summary(&MappingStats::default()).unwrap();
        assert!(
            summary.contains("4 failed invocations") && summary.contains("4 requests"),
            "{summary}"
        );
    }

    /// The summary adds what the metrics say was published and delivered, and the mappings'
    /// lag and dead letters.
    #[test]
    fn the_summary_counts_events_deliveries_lag_and_dead_letters() {
        let console = Console::new(false, false);
        let published = emf("publisher", &[("Applied", 5), ("Failed", 0)]);
        console.observe(
            "PublisherFunction",
            "stream TasksTable",
            &invocation(ok(), &[&published]),
        );
        let delivered = emf("channel-in-app", &[("Applied", 2)]);
        console.observe(
            "InAppChannelFunction",
            "msk todo.reminders-1",
            &invocation(ok(), &[&delivered]),
        );
        let stats = MappingStats::default();
        stats.record_lag("AuditConsumerFunction todo.task-events-0".into(), 7);
        stats.dead_lettered(1);
        let summary = console.summary(&stats).unwrap();
        assert!(
            summary.contains("5 events published, 2 records applied by channels")
                && summary.contains("1 dead letters (1 in all), lag 7 (most behind: AuditConsumerFunction todo.task-events-0, 7)"),
            "{summary}"
        );
        stats.record_lag("AuditConsumerFunction todo.task-events-0".into(), 0);
        assert_eq!(
            console.summary(&stats),
            None,
            "no new dead letter, no lag: quiet"
        );
    }

    /// A warning or error is printed as it is written; other lines are not.
    #[test]
    fn a_warning_shows_while_the_function_runs() {
        let console = Console::new(false, false);
        let warn = r#"{"level":"WARN","fields":{"message":"send failed","reason":"503"}}"#;
        let line = console.live("WebhookChannelFunction", warn).unwrap();
        assert!(
            line.ends_with("WebhookChannelFunction (running): WARN send failed reason=503"),
            "{line}"
        );
        assert_eq!(
            console.live(
                "F",
                r#"{"level":"INFO","fields":{"message":"WARN is a word"}}"#
            ),
            None
        );
        assert_eq!(console.live("F", "plain"), None);
        // A flood of warnings: a few a second, then how many were held back.
        let flood: Vec<Option<String>> = (0..20).map(|_| console.live("Flood", warn)).collect();
        assert_eq!(
            flood.iter().filter(|l| l.is_some()).count(),
            LIVE_PER_SECOND as usize
        );
    }

    /// What is not JSON is read as text: tracing's text format, a panic.
    #[test]
    fn text_lines_are_read_for_their_level() {
        let reading = Reading::of(&[
            "ERROR Lambda runtime invoke{requestId=\"x\"}: boom".to_string(),
            " INFO fine".to_string(),
            "not json at all".to_string(),
            "{\"_aws\": 1}".to_string(),
        ]);
        assert_eq!(reading.problems.len(), 1);
        assert!(!reading.did_something());
    }
}
