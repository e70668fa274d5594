//! `todo-load BASE_URL --token-command 'CMD {user}' [--users U] [--commands N]
//! [--concurrency C] [--seed S] [--reminder-lead SECONDS] [--drain-timeout SECONDS]
//! [--tolerate-faults]`
//!
//! Drives the API at BASE_URL, then verifies and prints the report; exits 1 when a promise did
//! not hold. `--token-command` prints a bearer token for the user named in place of `{user}`
//! (as for `scripts/smoke`). Users are named `load-<run>-<n>` so every run starts from empty
//! data even against a stack that has seen other runs.

use std::process::ExitCode;
use std::time::Duration;

use todo_load::{DriveConfig, LoadConfig};

const USAGE: &str = "usage: todo-load BASE_URL --token-command 'CMD {user}' [--users U] [--commands N] [--concurrency C] [--seed S] [--reminder-lead SECONDS] [--drain-timeout SECONDS] [--tolerate-faults]";

/// Bounds that keep a typo from minting a million tokens or spawning a million workers.
const MAX_USERS: usize = 10_000;
const MAX_CONCURRENCY: usize = 1_024;
const MAX_COMMANDS: usize = 10_000_000;

struct Args {
    base_url: String,
    token_command: String,
    users: usize,
    drive: DriveConfig,
    drain_timeout: Duration,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut base_url = None;
    let mut token_command = None;
    let mut users = 20;
    let mut drain = 120;
    let mut drive = DriveConfig {
        commands: 5_000,
        concurrency: 8,
        seed: 1,
        reminder_lead: Duration::from_secs(5),
        tolerate_faults: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token-command" => token_command = args.next(),
            "--users" => users = number("--users", args.next())?,
            "--commands" => drive.commands = number("--commands", args.next())?,
            "--concurrency" => drive.concurrency = number("--concurrency", args.next())?,
            "--seed" => drive.seed = number("--seed", args.next())?,
            "--reminder-lead" => {
                drive.reminder_lead = Duration::from_secs(number("--reminder-lead", args.next())?)
            }
            "--drain-timeout" => drain = number("--drain-timeout", args.next())?,
            "--tolerate-faults" => drive.tolerate_faults = true,
            "-h" | "--help" => return Err(String::new()),
            url if base_url.is_none() && !url.starts_with("--") => base_url = Some(url.to_string()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(1..=MAX_USERS).contains(&users) || !(1..=MAX_CONCURRENCY).contains(&drive.concurrency) {
        return Err(format!(
            "--users needs 1 to {MAX_USERS}, --concurrency 1 to {MAX_CONCURRENCY}"
        ));
    }
    if drive.commands > MAX_COMMANDS || drain > 3_600 {
        return Err(format!(
            "--commands needs at most {MAX_COMMANDS}, --drain-timeout at most 3600 s"
        ));
    }
    if let Some(url) = &base_url {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(format!("BASE_URL {url:?} is not an http(s) URL")),
        }
    }
    Ok(Args {
        base_url: base_url.ok_or("BASE_URL is missing")?,
        token_command: token_command.ok_or("--token-command is missing")?,
        users,
        drive,
        drain_timeout: Duration::from_secs(drain),
    })
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
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
        drive: args.drive,
        drain_timeout: args.drain_timeout,
    };
    if let Err(e) = todo_load::preflight(&config).await {
        eprintln!("todo-load: {e}");
        return ExitCode::from(2);
    }
    let report = todo_load::run(&config).await;
    println!("{report}");
    if report.problems().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
