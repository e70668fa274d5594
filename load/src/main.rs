//! `todo-load BASE_URL --token-command 'CMD {user}' [--users U] [--commands N]
//! [--concurrency C] [--seed S] [--reminder-lead SECONDS] [--drain-timeout SECONDS]
//! [--tolerate-faults] [--capacity-url URL [--target-events-per-minute N]]`
//!
//! Drives the API at BASE_URL, then verifies and prints the report; exits 1 when a promise did
//! not hold, 2 when it cannot run (a command line it cannot read, a token command that fails,
//! an API that does not answer). `--token-command` prints a bearer token for the user named in place of `{user}`
//! (as for `scripts/smoke`). Users are named `load-<run>-<n>` so every run starts from empty
//! data even against a stack that has seen other runs.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use todo_load::{DriveConfig, LoadConfig, capacity};

/// Bounds that keep a typo from minting a million tokens or spawning a million workers.
const MAX_USERS: u64 = 10_000;
const MAX_CONCURRENCY: u64 = 1_024;
const MAX_COMMANDS: u64 = 10_000_000;

/// Drives a serverless-todo API with a mix of every command from many users, then verifies
/// that the pipeline lost and doubled nothing and prints the report (exit 1 when a promise did
/// not hold).
#[derive(Parser)]
#[command(name = "todo-load", args_override_self = true)]
struct Args {
    /// The API's base URL.
    #[arg(value_parser = http_url)]
    base_url: String,
    /// A shell command that prints a bearer token for the user named in place of {user}
    /// (`todo-local token {user} --data DIR` for a local cloud).
    #[arg(long, value_name = "CMD")]
    token_command: String,
    /// Users issuing commands.
    #[arg(long, value_name = "U", default_value_t = 20,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_USERS))]
    users: usize,
    /// Commands issued in all.
    #[arg(long, value_name = "N", default_value_t = 5_000,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_COMMANDS))]
    commands: usize,
    /// Commands in flight at once.
    #[arg(long, value_name = "C", default_value_t = 8,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_CONCURRENCY))]
    concurrency: usize,
    /// Seed of the command mix.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Reminders fall this many seconds after their create.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    reminder_lead: u64,
    /// How long to wait for the pipeline to drain before verifying what has arrived.
    #[arg(long, value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(..=3_600))]
    drain_timeout: u64,
    /// Faults are injected on purpose: a 5xx or an unanswered request is retried as a careful
    /// client would, and whether it committed is read back.
    #[arg(long)]
    tolerate_faults: bool,
    /// The local cloud's DynamoDB accounting (`<DynamoDB endpoint>/_capacity`): measured from
    /// the start of the drive, then printed per table and index with each hot key projected
    /// to --target-events-per-minute (`scripts/load --capacity` passes it).
    #[arg(long, value_name = "URL", value_parser = http_url)]
    capacity_url: Option<String>,
    /// The system rate the capacity report projects each key to, in task events a minute.
    #[arg(long, value_name = "N", default_value_t = 1_000_000.0, requires = "capacity_url",
          value_parser = positive)]
    target_events_per_minute: f64,
}

/// A positive, finite number.
fn positive(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{value:?} is not a positive number")),
    }
}

/// The base URL, when it is an http(s) one.
fn http_url(url: &str) -> Result<String, String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url.to_string()),
        _ => Err(format!("{url:?} is not an http(s) URL")),
    }
}

/// Runs the token command for `user` and returns what it printed.
fn token(command: &str, user: &str) -> Result<String, String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command.replace("{user}", user))
        .output()
        .map_err(|e| format!("token command: {e}"))?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || token.is_empty() {
        return Err(format!(
            "token command for {user} failed ({}{}): {}",
            out.status,
            if token.is_empty() {
                ", printed nothing"
            } else {
                ""
            },
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(token)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let run = &run[run.len() - 8..];
    let mut users = Vec::new();
    for n in 0..args.users {
        let name = format!("load-{run}-{n}");
        match token(&args.token_command, &name) {
            Ok(t) => users.push((name, t)),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let config = LoadConfig {
        base_url: args.base_url,
        users,
        drive: DriveConfig {
            commands: args.commands,
            concurrency: args.concurrency,
            seed: args.seed,
            reminder_lead: Duration::from_secs(args.reminder_lead),
            tolerate_faults: args.tolerate_faults,
        },
        drain_timeout: Duration::from_secs(args.drain_timeout),
    };
    if let Err(e) = todo_load::preflight(&config).await {
        eprintln!("todo-load: {e}");
        return ExitCode::from(2);
    }
    let http = reqwest::Client::new();
    if let Some(url) = &args.capacity_url
        && let Err(e) = capacity::fetch(&http, url, true).await
    {
        eprintln!("todo-load: capacity: {e}");
        return ExitCode::from(2);
    }
    let report = todo_load::run(&config).await;
    println!("{report}");
    if let Some(url) = &args.capacity_url {
        match capacity::fetch(&http, url, false).await {
            Ok(accounting) => {
                let run = capacity::Run {
                    task_events: report.verification.committed,
                    commands: report.commands,
                    users: config.users.iter().map(|(name, _)| name.clone()).collect(),
                    task_owners: report.task_owners.clone(),
                    target_events_per_minute: args.target_events_per_minute,
                };
                let throttled = accounting["throttled_requests"].as_u64().unwrap_or(0);
                let groups = capacity::project(&accounting, &run);
                println!("\n{}", capacity::render(&groups, &run, throttled).0);
            }
            Err(e) => eprintln!("todo-load: capacity: {e}"),
        }
    }
    if report.problems().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(line.split_whitespace())
    }

    /// scripts/test's and scripts/load's command lines, and the defaults.
    #[test]
    fn the_command_lines_of_the_scripts_are_read_as_before() {
        let a = args("todo-load http://127.0.0.1:3000 --token-command tok").unwrap();
        assert_eq!(
            (a.users, a.commands, a.concurrency, a.seed),
            (20, 5_000, 8, 1)
        );
        assert_eq!((a.reminder_lead, a.drain_timeout), (5, 120));
        assert!(!a.tolerate_faults);
        let a = args("todo-load http://127.0.0.1:3000 --token-command tok --users 4 --commands 300 --concurrency 6 --reminder-lead 2 --drain-timeout 60 --tolerate-faults").unwrap();
        assert_eq!((a.users, a.commands, a.concurrency), (4, 300, 6));
        assert_eq!((a.reminder_lead, a.drain_timeout), (2, 60));
        assert!(a.tolerate_faults);
        assert_eq!(a.capacity_url, None);
        let a = args("todo-load http://a --token-command tok --capacity-url http://d/_capacity --target-events-per-minute 600000").unwrap();
        assert_eq!(a.capacity_url.as_deref(), Some("http://d/_capacity"));
        assert_eq!(a.target_events_per_minute, 600_000.0);
        let a = args("todo-load --seed 7 --token-command tok https://api.example").unwrap();
        assert_eq!((a.base_url.as_str(), a.seed), ("https://api.example", 7));
    }

    /// Exit 2, as before: a missing or second URL, one that is not http(s), numbers out of
    /// their bounds, an unknown flag. `--help` exits 0.
    #[test]
    fn what_it_cannot_read_is_refused() {
        let refused = [
            "",
            "http://a",
            "ftp://a --token-command tok",
            "http://a http://b --token-command tok",
            "http://a --token-command tok --users 0",
            "http://a --token-command tok --users 10001",
            "http://a --token-command tok --concurrency 1025",
            "http://a --token-command tok --commands 10000001",
            "http://a --token-command tok --commands 0",
            "http://a --token-command tok --drain-timeout 3601",
            "http://a --token-command tok --seed x",
            "http://a --token-command tok --wrong",
            "http://a --token-command tok --target-events-per-minute 5",
            "http://a --token-command tok --capacity-url x",
            "http://a --token-command tok --capacity-url http://d --target-events-per-minute 0",
        ];
        for tail in refused {
            let e = args(&format!("todo-load {tail}")).err().expect(tail);
            assert_eq!(e.exit_code(), 2, "{tail}");
        }
        assert_eq!(
            args("todo-load --help").err().map(|e| e.exit_code()),
            Some(0)
        );
    }
}
