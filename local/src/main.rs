//! `todo-local`: the whole system on this machine, with no Docker and no AWS account.
//!
//! `todo-local [--data DIR] [--port PORT] [--reset] [--packaged .aws-sam/build]` starts it
//! (`--packaged` runs what `sam build` packaged, arm64 under qemu-user; `--no-iam` lets what the
//! functions' roles refuse through, recorded, for debugging); `todo-local token USER` prints a
//! bearer token for USER; `todo-local iam-report` prints what a run's functions were refused
//! and which grants of the template no request needed (exit 1 when either needs attention).
//! Run it through `scripts/run`, which builds what it needs first.

use std::path::PathBuf;

use todo_local::artifacts::Artifacts;
use todo_local::auth::LocalAuthorizer;
use todo_local::cloud::{CloudConfig, LocalCloud};
use todo_local::template::Template;

const USAGE: &str = "usage: todo-local [--data DIR] [--port PORT] [--reset] [--schedule-every SECONDS] [--concurrency N] [--max-connections N] [--packaged DIR] [--no-iam]\n       todo-local token USER [--groups G1,G2] [--data DIR]\n       todo-local iam-report [--data DIR | --ledgers DIR]";

struct Args {
    data: PathBuf,
    port: u16,
    reset: bool,
    token_for: Option<String>,
    /// `cognito:groups` of the token printed (`--groups admin` for an administrator's).
    groups: Vec<String>,
    schedule_every: Option<std::time::Duration>,
    concurrency: usize,
    /// Client connections each API holds open at once.
    max_connections: usize,
    /// `sam build`'s output folder to run instead of the workspace binaries.
    packaged: Option<PathBuf>,
    /// Let refused requests through (recorded).
    no_iam: bool,
    /// Print the least-privilege report of the data folder's ledger.
    iam_report: bool,
    /// ...or of every ledger in this folder.
    ledgers: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        data: PathBuf::from(".local-data"),
        port: 3000,
        reset: false,
        token_for: None,
        groups: Vec::new(),
        schedule_every: Some(std::time::Duration::from_secs(5)),
        concurrency: todo_local::cloud::DEFAULT_CONCURRENCY,
        max_connections: todo_local::connections::default_max_connections(),
        packaged: None,
        no_iam: false,
        iam_report: false,
        ledgers: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => parsed.data = args.next().ok_or("--data needs a folder")?.into(),
            "--port" => {
                parsed.port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            "--reset" => parsed.reset = true,
            "--no-iam" => parsed.no_iam = true,
            "iam-report" => parsed.iam_report = true,
            "--ledgers" => {
                parsed.ledgers = Some(args.next().ok_or("--ledgers needs a folder")?.into());
            }
            "--schedule-every" => {
                let secs: u64 = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--schedule-every needs seconds")?;
                parsed.schedule_every = Some(std::time::Duration::from_secs(secs));
            }
            "--concurrency" => {
                parsed.concurrency = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--concurrency needs a whole number from 1")?;
            }
            "--max-connections" => {
                parsed.max_connections = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--max-connections needs a whole number from 1")?;
            }
            "--packaged" => {
                parsed.packaged = Some(
                    args.next()
                        .ok_or("--packaged needs a folder (.aws-sam/build)")?
                        .into(),
                );
            }
            "token" => parsed.token_for = Some(args.next().ok_or("token needs a user")?),
            "--groups" => {
                parsed.groups = args
                    .next()
                    .ok_or("--groups needs a comma-separated list")?
                    .split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect();
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("todo-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints the least-privilege report of the data folder's run, or of every run whose ledger is
/// in `--ledgers DIR` (the test command collects them there; the newest run's roles are
/// judged); fails when it needs attention.
fn iam_report(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    match &args.ledgers {
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
        None => files.push(args.data.join("iam/ledger.json")),
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

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(user) = args.token_for {
        let auth = LocalAuthorizer::recorded(&args.data)?;
        let token = match args.groups.as_slice() {
            [] => auth.token(&user, 24),
            groups => auth.token_in_groups(&user, 24, groups),
        };
        println!("{token}");
        return Ok(());
    }
    if args.iam_report {
        return iam_report(&args);
    }
    if args.reset && args.data.exists() {
        std::fs::remove_dir_all(&args.data)?;
    }
    let artifacts = match args.packaged {
        Some(dir) => Artifacts::Packaged(dir),
        None => Artifacts::Workspace(
            std::env::current_exe()?
                .parent()
                .map(PathBuf::from)
                .ok_or("cannot locate the function binaries")?,
        ),
    };
    let template = Template::load(std::path::Path::new("template.yaml"))?;
    let config = CloudConfig {
        data_dir: args.data.clone(),
        artifacts,
        api_port: args.port,
        print_invocations: true,
        schedule_every: args.schedule_every,
        concurrency: args.concurrency,
        enforce_iam: !args.no_iam,
        max_connections: args.max_connections,
    };
    let cloud = LocalCloud::start(&template, &config).await?;
    let token = cloud.auth.token("alice", 24);
    println!("todo-local is up (data in {})", args.data.display());
    println!("  HTTP API      {}", cloud.api_url);
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
    println!("\nTry:\n  TOKEN={token}");
    println!(
        "  curl -s -X POST {}/tasks -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"title\":\"Try todo-local\"}}'\n",
        cloud.api_url
    );
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    Ok(())
}
