//! `todo-admin`: see the crate docs. Usage:
//!
//! ```text
//! todo-admin dead-letters list [--from OFFSET]
//! todo-admin dead-letters redrive (--offset N ... | --all) [--to TOPIC] [--apply]
//! todo-admin failures redrive FILE [--apply]
//! ```
//!
//! `dead-letters list` prints one JSON line per dead letter (partition, offset, time, key,
//! reason, origin, headers, value). `redrive` sends chosen ones back to their origin topic and
//! partition. `failures redrive` reads failure-queue messages (AWS's invocation records, one
//! per line, e.g. `aws sqs receive-message ... | jq -c '.Messages[].Body | fromjson'`), reads
//! each range back from the table stream and publishes it as the publisher would, or says that
//! the stream no longer holds it.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use todo_admin::dead_letters::{self, Target};
use todo_admin::failures;
use todo_kafka::config::KafkaConfig;
use todo_kafka::producer::KafkaSink;

const USAGE: &str = "usage: todo-admin dead-letters list [--from OFFSET]\n       todo-admin dead-letters redrive (--offset N ... | --all) [--to TOPIC] [--apply]\n       todo-admin failures redrive FILE [--apply]\nKafka from KAFKA_BOOTSTRAP_SERVERS (and KAFKA_SECURITY_PROTOCOL ...), AWS from the SDK's usual variables.";

#[derive(Default)]
struct Args {
    words: Vec<String>,
    from: i64,
    offsets: Vec<i64>,
    all: bool,
    to: Option<String>,
    apply: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let mut number = |flag: &str| {
            it.next()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or(format!("{flag} needs a number"))
        };
        match arg.as_str() {
            "--from" => a.from = number("--from")?.max(0),
            "--offset" => {
                let n = number("--offset")?;
                if n < 0 {
                    return Err("--offset needs an offset from 0".into());
                }
                a.offsets.push(n);
            }
            "--all" => a.all = true,
            "--apply" => a.apply = true,
            "--to" => a.to = Some(it.next().ok_or("--to needs a topic")?),
            "-h" | "--help" => return Err("help".into()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            word => a.words.push(word.to_string()),
        }
    }
    Ok(a)
}

async fn kafka() -> Result<rskafka::client::Client, String> {
    KafkaConfig::from_env()
        .await
        .map_err(|e| e.to_string())?
        .connect("todo-admin", Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())
}

async fn run(a: Args) -> Result<bool, String> {
    let words: Vec<&str> = a.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["dead-letters", "list"] => {
            let letters = dead_letters::list(&kafka().await?, a.from).await;
            for l in letters.map_err(|e| e.to_string())? {
                println!("{}", l.to_json());
            }
            Ok(true)
        }
        ["dead-letters", "redrive"] => {
            if a.offsets.is_empty() && !a.all {
                return Err("say which: --offset N (repeatable) or --all".into());
            }
            let client = kafka().await?;
            let letters: Vec<_> = dead_letters::list(&client, 0)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|l| a.all || a.offsets.contains(&l.offset))
                .collect();
            let missing: Vec<_> = a
                .offsets
                .iter()
                .filter(|o| !letters.iter().any(|l| l.offset == **o))
                .collect();
            if !missing.is_empty() {
                return Err(format!("no dead letter at offsets {missing:?}"));
            }
            let done = dead_letters::redrive(&client, &letters, a.to.as_deref(), a.apply)
                .await
                .map_err(|e| e.to_string())?;
            let mut ok = true;
            for r in &done {
                let line = match &r.target {
                    Target::Topic { topic, partition } => json!({
                        "offset": r.offset, "to": format!("{topic}-{partition}"),
                        "redriven": r.produced, "dry_run": !a.apply,
                    }),
                    Target::NotRedrivable(why) => {
                        ok = false;
                        json!({"offset": r.offset, "not_redrivable": why})
                    }
                };
                println!("{line}");
            }
            if !a.apply {
                eprintln!("dry run: nothing was produced; add --apply to redrive");
            }
            Ok(ok)
        }
        ["failures", "redrive", file] => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let records = failures::parse(&text)?;
            if records.is_empty() {
                return Err(format!("{file} holds no failure records"));
            }
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let streams = aws_sdk_dynamodbstreams::Client::new(&config);
            let sink = KafkaSink::new(KafkaConfig::from_env().await.map_err(|e| e.to_string())?);
            let mut ok = true;
            // SQS delivers at least once: the same range may come twice; read it once.
            let mut seen = std::collections::HashSet::new();
            for f in records {
                let b = &f.batch;
                let key = (
                    b.stream_arn.clone(),
                    b.shard_id.clone(),
                    b.start_sequence_number.clone(),
                    b.end_sequence_number.clone(),
                );
                if !seen.insert(key) {
                    continue;
                }
                let range = format!(
                    "{}..={} on {}",
                    b.start_sequence_number, b.end_sequence_number, b.shard_id
                );
                match failures::read_range(&streams, b, chrono::Utc::now()).await {
                    Err(why) => {
                        ok = false;
                        let kind = if why.lost() { "gone" } else { "not_redriven" };
                        println!("{}", json!({"range": range, kind: why.to_string()}));
                    }
                    Ok(records) if !a.apply => {
                        println!(
                            "{}",
                            json!({"range": range, "records": records.len(), "dry_run": true})
                        );
                    }
                    Ok(records) => {
                        let done = failures::publish(&sink, records).await;
                        ok &= done.failed.is_empty();
                        println!(
                            "{}",
                            json!({"range": range, "records": done.records, "failed_again": done.failed})
                        );
                    }
                }
            }
            if !a.apply {
                eprintln!("dry run: nothing was published; add --apply to redrive");
            }
            Ok(ok)
        }
        _ => Err(String::new()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e == "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) if e.is_empty() => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("todo-admin: {e}");
            ExitCode::FAILURE
        }
    }
}
