//! `todo-local`: the whole system on this machine, with no Docker and no AWS account.
//!
//! `todo-local [--data DIR] [--port PORT] [--reset] [--packaged .aws-sam/build]` starts it
//! (`--packaged` runs what `sam build` packaged, arm64 under qemu-user; `--no-iam` lets what the
//! functions' roles refuse through, recorded, for debugging); `todo-local token USER` prints a
//! bearer token for USER; `todo-local iam-report` prints what a run's functions were refused
//! and which grants of the template no request needed (exit 1 when either needs attention);
//! `todo-local logs FUNCTION [--follow]` prints a function's log from the data folder.
//! While it runs it prints what each invocation did and every failure (`--verbose`: every
//! invocation; `console`).
//! Run it through `scripts/run`, which builds what it needs first. `todo-local --help` lists
//! every option; a command line it cannot read exits 2.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::{Parser, Subcommand};
use todo_local::artifacts::Artifacts;
use todo_local::auth::LocalAuthorizer;
use todo_local::cloud::{CloudConfig, LocalCloud};
use todo_local::dynamodb::accounting::PartitionLimits;
use todo_local::dynamodb::latency::Latency;
use todo_local::template::Template;

/// The local cloud: template.yaml's functions, tables, broker and APIs on this machine. Without
/// a command it starts them from the current folder's template.yaml and runs until Ctrl-C.
#[derive(Parser)]
#[command(name = "todo-local", args_override_self = true)]
struct Cli {
    /// The data folder: tables, broker log, the issuer's key, the IAM ledger.
    #[arg(long, value_name = "DIR", default_value = ".local-data", global = true)]
    data: PathBuf,
    #[command(flatten)]
    start: Start,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How the cloud starts.
#[derive(clap::Args)]
struct Start {
    /// The HTTP API's port (0: any free one; the address is printed).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Delete the data folder first.
    #[arg(long)]
    reset: bool,
    /// Seconds between the schedule's runs (every minute in AWS).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    schedule_every: u64,
    /// Execution environments each function may run at once.
    #[arg(long, value_name = "N", default_value_t = todo_local::cloud::DEFAULT_CONCURRENCY,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: usize,
    /// Client connections each API holds open at once (by default 1024, or a quarter of the
    /// process's file descriptors when that is less).
    #[arg(long, value_name = "N", default_value_t = todo_local::connections::default_max_connections(),
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Run what `sam build` packaged in DIR (.aws-sam/build), arm64 under qemu-user, instead of
    /// the workspace's binaries.
    #[arg(long, value_name = "DIR")]
    packaged: Option<PathBuf>,
    /// Let what the functions' roles refuse through (recorded and printed), for debugging.
    #[arg(long)]
    no_iam: bool,
    /// Print a line for every invocation, schedule runs that found nothing too (by default
    /// only what did something, and failures with the function's own lines).
    #[arg(long)]
    verbose: bool,
    /// Latency the DynamoDB endpoint adds before each call, as a round trip to DynamoDB costs
    /// in AWS: `5ms`, or a range drawn uniformly per call, `2ms..10ms` (units s, ms, us).
    #[arg(long, value_name = "DURATION")]
    dynamodb_latency: Option<Latency>,
    /// Each partition key's limit, of a table and of each global index, in write and read
    /// units a second; past it the DynamoDB endpoint throttles the key as DynamoDB does (AWS's
    /// limits by default; lower ones make a hot key show in a small run).
    #[arg(long, value_name = "WRITE,READ", default_value = "1000,3000")]
    dynamodb_partition_limits: PartitionLimits,
}

#[derive(Subcommand)]
enum Command {
    /// Print a bearer token for USER from the data folder's issuer (valid 24 hours).
    #[command(args_override_self = true)]
    Token {
        /// The token's subject (`sub`).
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        user: String,
        /// `cognito:groups` of the token (`--groups admin` for an administrator's).
        #[arg(long, value_name = "G1,G2",
              value_parser = clap::builder::NonEmptyStringValueParser::new())]
        groups: Option<String>,
    },
    /// Print what a run's functions were refused and which grants no request needed; exit 1
    /// when either needs attention.
    #[command(args_override_self = true)]
    IamReport {
        /// Judge every ledger (*.json) in DIR instead of the data folder's.
        #[arg(long, value_name = "DIR")]
        ledgers: Option<PathBuf>,
    },
    /// Invoke one function once with an event, as `sam local invoke` does (without Docker):
    /// against the local cloud running in the data folder, else a throwaway one. The function's
    /// log goes to stderr, its response to stdout; exit 1 when it failed.
    #[command(args_override_self = true)]
    Invoke {
        /// The function's logical id in template.yaml (`CreateTaskFunction`).
        function: String,
        /// The event, a JSON file (`events/http/create-task.json`; `-` reads it from stdin).
        #[arg(short = 'e', long, value_name = "FILE")]
        event: PathBuf,
        /// Run what `sam build` packaged in DIR (.aws-sam/build), arm64 under qemu-user.
        #[arg(long, value_name = "DIR")]
        packaged: Option<PathBuf>,
    },
    /// Print a function's log (everything it wrote, with Lambda's START, END and REPORT lines)
    /// from the data folder.
    #[command(args_override_self = true)]
    Logs {
        /// The function's logical id in template.yaml (`CreateTaskFunction`).
        function: String,
        /// Keep printing what it writes, until Ctrl-C.
        #[arg(long, short)]
        follow: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let done = match cli.command {
        Some(Command::Token { user, groups }) => token(&cli.data, &user, groups.as_deref()),
        Some(Command::IamReport { ledgers }) => iam_report(&cli.data, ledgers.as_deref()),
        Some(Command::Logs { function, follow }) => logs(&cli.data, &function, follow).await,
        Some(Command::Invoke {
            function,
            event,
            packaged,
        }) => match invoke(&cli.data, &function, &event, packaged).await {
            Ok(true) => Ok(()),
            Ok(false) => return std::process::ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        None => start(&cli.data, cli.start).await,
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("todo-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a token for `user`, in the comma-separated `groups` when there are any.
fn token(data: &Path, user: &str, groups: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let auth = LocalAuthorizer::recorded(data)?;
    let groups: Vec<String> = groups
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(String::from)
        .collect();
    let token = match groups.as_slice() {
        [] => auth.token(user, 24),
        groups => auth.token_in_groups(user, 24, groups),
    };
    println!("{token}");
    Ok(())
}

/// Prints the least-privilege report of the data folder's run, or of every run whose ledger is
/// in `--ledgers DIR` (the test command collects them there; the newest run's roles are
/// judged); fails when it needs attention.
fn iam_report(data: &Path, ledgers: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    match ledgers {
        Some(dir) => {
            for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
            // The newest run's roles are the ones judged (the template as it is now).
            files.sort_by_key(|p| {
                std::cmp::Reverse(std::fs::metadata(p).and_then(|m| m.modified()).ok())
            });
        }
        None => files.push(data.join("iam/ledger.json")),
    }
    let mut ledgers = Vec::new();
    for path in &files {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ledgers.push(serde_json::from_slice::<todo_local::iam::authority::Ledger>(&text)?);
    }
    let text = std::fs::read_to_string("template.yaml")?;
    let report = todo_local::iam::report::report(&ledgers, &text);
    for line in &report.lines {
        println!("{line}");
    }
    if !report.clean() {
        return Err(
            "requests were denied, or grants no request needed have no reason beside them".into(),
        );
    }
    Ok(())
}

/// Prints `function`'s log file, and with `follow` what is added to it (`function_log::print`).
async fn logs(data: &Path, function: &str, follow: bool) -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(template) = Template::load(Path::new("template.yaml")) {
        template.function(function)?;
    }
    let path = todo_local::function_log::file_of(data, function);
    if !todo_local::function_log::print(&path, follow, &mut std::io::stdout().lock()).await? {
        return Err(format!(
            "no log for {function} in {}: it has not been invoked yet (--follow waits for it)",
            data.display()
        )
        .into());
    }
    Ok(())
}

/// The function binaries: `sam build`'s in `packaged`, else the workspace's beside this one.
fn artifacts(packaged: Option<PathBuf>) -> Result<Artifacts, Box<dyn std::error::Error>> {
    Ok(match packaged {
        Some(dir) => Artifacts::Packaged(dir),
        None => Artifacts::Workspace(
            std::env::current_exe()?
                .parent()
                .map(PathBuf::from)
                .ok_or("cannot locate the function binaries")?,
        ),
    })
}

/// Invokes `function` once with the event in `event_file` and prints what `sam local invoke`
/// prints: the log on stderr, the response on stdout. False when the invocation failed.
async fn invoke(
    data: &Path,
    function: &str,
    event_file: &Path,
    packaged: Option<PathBuf>,
) -> Result<bool, Box<dyn std::error::Error>> {
    let event = todo_local::invoke::read_event(event_file)?;
    let template = Template::load(Path::new("template.yaml"))?;
    if let Some(dir) = &packaged
        && !dir.is_dir()
    {
        return Err(format!(
            "--packaged {}: no such folder (run `sam build` first)",
            dir.display()
        )
        .into());
    }
    let packaged_given = packaged.is_some();
    let invoked = todo_local::invoke::run(
        &template,
        data,
        function,
        event,
        artifacts(packaged)?,
        packaged_given,
    )
    .await?;
    Ok(todo_local::invoke::print(
        &invoked,
        &mut std::io::stderr().lock(),
        &mut std::io::stdout().lock(),
    )?)
}

/// How often the console sums up what happened (when anything did).
const SUMMARY_EVERY: Duration = Duration::from_secs(30);

/// Starts the cloud and runs it until Ctrl-C.
async fn start(data: &Path, args: Start) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(pid) = todo_local::invoke::running(data) {
        return Err(format!(
            "a local cloud (pid {pid}) already runs in {}: stop it, or give this one another --data",
            data.display()
        )
        .into());
    }
    if args.reset && data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    todo_local::invoke::mark_running(data)?;
    let artifacts = artifacts(args.packaged)?;
    let template = Template::load(std::path::Path::new("template.yaml"))?;
    let config = CloudConfig {
        data_dir: data.to_path_buf(),
        artifacts,
        api_port: args.port,
        print_invocations: true,
        verbose: args.verbose,
        schedule_every: Some(Duration::from_secs(args.schedule_every)),
        concurrency: args.concurrency,
        enforce_iam: !args.no_iam,
        max_connections: args.max_connections,
    };
    let cloud = LocalCloud::start(&template, &config).await?;
    cloud.dynamo.set_latency(args.dynamodb_latency);
    cloud
        .dynamo
        .set_partition_limits(Some(args.dynamodb_partition_limits));
    let token = cloud.auth.token("alice", 24);
    println!("todo-local is up (data in {})", data.display());
    println!("  HTTP API      {}", cloud.api_url);
    println!(
        "  Console       {}/_console   (the pipeline, failures, far ends and dead letters, live)",
        cloud.api_url
    );
    if let Some(ws) = &cloud.websocket_url {
        println!(
            "  WebSocket API {ws}   (connect with ?token=$TOKEN; send {{\"action\":\"ping\"}})"
        );
    }
    println!(
        "  OIDC issuer   {}   (discovery: /.well-known/openid-configuration)",
        cloud.auth.issuer()
    );
    println!("  DynamoDB      {}", cloud.dynamo.endpoint());
    println!("  Kafka         {}", cloud.kafka.bootstrap());
    println!("  webhook sink  {}", cloud.webhook.url());
    let far_end = cloud.webhook.url().trim_end_matches("/hook");
    println!(
        "                (deliveries: GET {far_end}/messages; fail or slow it: POST {far_end}/control?status=503&delay_ms=0)"
    );
    println!("  SES (e-mail)  {}", cloud.ses.url());
    println!(
        "                (sent: GET {0}/messages; fail or slow it: POST {0}/control?status=503&delay_ms=0)",
        cloud.ses.url()
    );
    println!("  Web Push      {}", cloud.push.origin());
    println!(
        "                (subscribe a device: POST {0}/subscriptions; received: GET {0}/messages; fail or slow it: POST {0}/control?status=503)",
        cloud.push.origin()
    );
    println!("  Secrets Mgr   {}", cloud.secrets.url());
    println!(
        "  Lambda        {}   (Invoke: how the reminder sweep hands a burst to its workers)",
        cloud.lambda.url()
    );
    println!("\nTry:\n  TOKEN={token}");
    println!(
        "  curl -s -X POST {}/tasks -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"title\":\"Try todo-local\"}}'\n",
        cloud.api_url
    );
    println!(
        "Printed: what each invocation did, failures with the function's own lines, a summary every {} s of activity \
         (schedule runs that found nothing are only counted; --verbose prints them). Each function's log: todo-local logs FUNCTION [--follow]\n",
        SUMMARY_EVERY.as_secs()
    );
    let (console, stats) = (
        std::sync::Arc::clone(&cloud.console),
        std::sync::Arc::clone(&cloud.mapping_stats),
    );
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SUMMARY_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            if let Some(summary) = console.summary(&stats) {
                println!("{summary}");
            }
        }
    });
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What scripts/ (run, test, load, bench-latency, lib/local-cloud.sh, smoke's docs) and the
    /// end-to-end tests run, read as before; what it cannot read exits 2, `--help` 0.
    #[test]
    fn the_command_lines_of_the_scripts_and_tests_are_read_as_before() {
        let cli = |line: &str| Cli::try_parse_from(line.split_whitespace());
        let plain = cli("todo-local").unwrap();
        assert_eq!(plain.data, PathBuf::from(".local-data"));
        assert_eq!((plain.start.port, plain.start.schedule_every), (3000, 5));
        assert!(plain.command.is_none() && !plain.start.no_iam && !plain.start.reset);

        let scripts =
            cli("todo-local --port 0 --data /d --schedule-every 1 --packaged .aws-sam/build");
        let scripts = scripts.unwrap();
        assert_eq!((scripts.start.port, scripts.start.schedule_every), (0, 1));
        assert_eq!(scripts.data, PathBuf::from("/d"));
        assert_eq!(
            scripts.start.packaged,
            Some(PathBuf::from(".aws-sam/build"))
        );

        let token = cli("todo-local token alice --data /d --groups admin").unwrap();
        assert_eq!(token.data, PathBuf::from("/d"));
        assert!(
            matches!(token.command, Some(Command::Token { user, groups: Some(g) }) if user == "alice" && g == "admin")
        );
        let report = cli("todo-local iam-report --ledgers /l").unwrap();
        assert!(
            matches!(report.command, Some(Command::IamReport { ledgers: Some(l) }) if l == Path::new("/l"))
        );
        assert!(cli("todo-local iam-report --data /d").is_ok());
        assert!(cli("todo-local --no-iam --reset --concurrency 2 --max-connections 64").is_ok());
        assert!(cli("todo-local --verbose").unwrap().start.verbose && !plain.start.verbose);
        let logs = cli("todo-local logs CreateTaskFunction --follow --data /d").unwrap();
        assert!(
            matches!(logs.command, Some(Command::Logs { function, follow: true }) if function == "CreateTaskFunction")
        );
        assert_eq!(logs.data, PathBuf::from("/d"));
        let invoke = cli("todo-local invoke CreateTaskFunction -e events/http/create-task.json --packaged .aws-sam/build").unwrap();
        assert!(matches!(
            invoke.command,
            Some(Command::Invoke { function, event, packaged: Some(p) })
                if function == "CreateTaskFunction" && event == Path::new("events/http/create-task.json") && p == Path::new(".aws-sam/build")
        ));

        let code = |line| cli(line).err().map(|e| e.exit_code());
        assert_eq!(code("todo-local --help"), Some(0));
        assert_eq!(code("todo-local --wrong"), Some(2));
        assert_eq!(code("todo-local --port x"), Some(2));
        assert_eq!(code("todo-local --concurrency 0"), Some(2));
        assert_eq!(code("todo-local --max-connections 0"), Some(2));
        assert_eq!(code("todo-local token"), Some(2));
        assert_eq!(code("todo-local logs"), Some(2));
        assert_eq!(code("todo-local invoke CreateTaskFunction"), Some(2));
        // An empty subject or group list would mint a token the API refuses.
        let empty = |args: &[&str]| {
            Cli::try_parse_from(["todo-local", "token"].iter().chain(args).copied())
                .err()
                .map(|e| e.exit_code())
        };
        assert_eq!(empty(&[""]), Some(2));
        assert_eq!(empty(&["alice", "--groups", ""]), Some(2));

        let latency = cli("todo-local --dynamodb-latency 2ms..10ms").unwrap();
        assert_eq!(latency.start.dynamodb_latency, "2ms..10ms".parse().ok());
        assert_eq!(plain.start.dynamodb_latency, None);
        assert_eq!(
            plain.start.dynamodb_partition_limits,
            PartitionLimits::default()
        );
        let limits = cli("todo-local --dynamodb-partition-limits 10,30").unwrap();
        assert_eq!(
            limits.start.dynamodb_partition_limits,
            PartitionLimits {
                write: 10.0,
                read: 30.0
            }
        );
        assert_eq!(code("todo-local --dynamodb-partition-limits 10"), Some(2));
        assert_eq!(code("todo-local --dynamodb-partition-limits 0,5"), Some(2));
        for bad in ["5", "fast", "10ms..2ms"] {
            let error = cli(&format!("todo-local --dynamodb-latency {bad}"))
                .err()
                .unwrap();
            assert_eq!(error.exit_code(), 2);
            let text = error.to_string();
            assert!(
                text.contains("--dynamodb-latency") && text.contains(bad),
                "{text}"
            );
        }
    }
}
