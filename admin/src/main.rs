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

use clap::{Parser, Subcommand};
use serde_json::json;
use todo_admin::dead_letters::{self, Target};
use todo_admin::failures;
use todo_kafka::config::KafkaConfig;
use todo_kafka::producer::KafkaSink;

/// The operator's way back: list and redrive dead-lettered Kafka records, and redrive the
/// publisher's failure-queue records from the table stream. Exits 1 when something could not
/// be redriven.
#[derive(Parser, Debug)]
#[command(
    name = "todo-admin",
    subcommand_required = true,
    arg_required_else_help = true,
    after_help = "Kafka from KAFKA_BOOTSTRAP_SERVERS (and KAFKA_SECURITY_PROTOCOL ...), AWS from the SDK's usual variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug, PartialEq)]
enum Command {
    /// Records on todo.dead.letter.
    #[command(subcommand)]
    DeadLetters(DeadLetters),
    /// The publisher's failure-queue records.
    #[command(subcommand)]
    Failures(Failures),
}

#[derive(Subcommand, Debug, PartialEq)]
enum DeadLetters {
    /// Print one JSON line per dead letter (partition, offset, time, key, reason, origin,
    /// headers, value).
    #[command(args_override_self = true)]
    List {
        /// The first offset to list (below 0: from 0).
        #[arg(
            long,
            value_name = "OFFSET",
            default_value_t = 0,
            allow_negative_numbers = true
        )]
        from: i64,
    },
    /// Send the chosen dead letters back to their origin topic and partition (a dry run
    /// without --apply).
    #[command(
        args_override_self = true,
        group(clap::ArgGroup::new("which").required(true).args(["offsets", "all"]))
    )]
    Redrive {
        /// A dead letter's offset (repeatable).
        #[arg(long = "offset", value_name = "N", allow_negative_numbers = true,
              value_parser = clap::value_parser!(i64).range(0..))]
        offsets: Vec<i64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
        /// The topic of those whose origin names none.
        #[arg(long, value_name = "TOPIC")]
        to: Option<String>,
        /// Produce them (without it nothing is produced).
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Subcommand, Debug, PartialEq)]
enum Failures {
    /// Read each failure record's range back from the table stream and publish it as the
    /// publisher would (a dry run without --apply).
    #[command(args_override_self = true)]
    Redrive {
        /// Failure-queue messages, one JSON document after another.
        file: String,
        /// Publish them (without it nothing is published).
        #[arg(long)]
        apply: bool,
    },
}

async fn kafka() -> Result<rskafka::client::Client, String> {
    KafkaConfig::from_env()
        .await
        .map_err(|e| e.to_string())?
        .connect("todo-admin", Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())
}

/// Runs the command: whether everything it was asked for was done, or why it could not run.
async fn run(command: Command) -> Result<bool, String> {
    match command {
        Command::DeadLetters(DeadLetters::List { from }) => {
            for l in dead_letters::list(&kafka().await?, from.max(0))
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{}", l.to_json());
            }
            Ok(true)
        }
        Command::DeadLetters(DeadLetters::Redrive {
            offsets,
            all,
            to,
            apply,
        }) => {
            let client = kafka().await?;
            let letters: Vec<_> = dead_letters::list(&client, 0)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|l| all || offsets.contains(&l.offset))
                .collect();
            let missing: Vec<_> = offsets
                .iter()
                .filter(|o| !letters.iter().any(|l| l.offset == **o))
                .collect();
            if !missing.is_empty() {
                return Err(format!("no dead letter at offsets {missing:?}"));
            }
            let done = dead_letters::redrive(&client, &letters, to.as_deref(), apply)
                .await
                .map_err(|e| e.to_string())?;
            let mut ok = true;
            for r in &done {
                let line = match &r.target {
                    Target::Topic { topic, partition } => json!({
                        "offset": r.offset, "to": format!("{topic}-{partition}"),
                        "redriven": r.produced, "dry_run": !apply,
                    }),
                    Target::NotRedrivable(why) => {
                        ok = false;
                        json!({"offset": r.offset, "not_redrivable": why})
                    }
                };
                println!("{line}");
            }
            if !apply {
                eprintln!("dry run: nothing was produced; add --apply to redrive");
            }
            Ok(ok)
        }
        Command::Failures(Failures::Redrive { file, apply }) => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
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
                    Ok(records) if !apply => {
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
            if !apply {
                eprintln!("dry run: nothing was published; add --apply to redrive");
            }
            Ok(ok)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("todo-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command `line` stands for, or the exit code of its error.
    fn command(line: &str) -> Result<Command, i32> {
        Cli::try_parse_from(line.split_whitespace())
            .map(|cli| cli.command)
            .map_err(|e| e.exit_code())
    }

    /// The command lines of the README and docs/pipeline.md.
    #[test]
    fn the_documented_command_lines_are_read_as_before() {
        let list = |from| Ok(Command::DeadLetters(DeadLetters::List { from }));
        assert_eq!(command("todo-admin dead-letters list"), list(0));
        assert_eq!(command("todo-admin dead-letters list --from 12"), list(12));
        assert_eq!(command("todo-admin dead-letters list --from -3"), list(-3));
        assert_eq!(
            command("todo-admin dead-letters redrive --offset 3 --offset 5 --to t --apply"),
            Ok(Command::DeadLetters(DeadLetters::Redrive {
                offsets: vec![3, 5],
                all: false,
                to: Some("t".into()),
                apply: true,
            }))
        );
        assert!(matches!(
            command("todo-admin dead-letters redrive --all"),
            Ok(Command::DeadLetters(DeadLetters::Redrive {
                all: true,
                apply: false,
                ..
            }))
        ));
        assert_eq!(
            command("todo-admin failures redrive f.jsonl --apply"),
            Ok(Command::Failures(Failures::Redrive {
                file: "f.jsonl".into(),
                apply: true,
            }))
        );
    }

    /// Exit 2, as before: no command, half a command, an unknown one, a bad number or flag.
    /// `--help` exits 0.
    #[test]
    fn what_it_cannot_read_is_refused() {
        assert_eq!(command("todo-admin --help"), Err(0));
        for line in [
            "todo-admin",
            "todo-admin dead-letters",
            "todo-admin dead-letters show",
            "todo-admin dead-letters list --from x",
            "todo-admin dead-letters redrive --offset -1",
            "todo-admin dead-letters redrive",
            "todo-admin dead-letters redrive --apply",
            "todo-admin dead-letters redrive --offset 1 --all",
            "todo-admin failures redrive",
            "todo-admin failures redrive f.jsonl --wrong",
        ] {
            assert_eq!(command(line), Err(2), "{line}");
        }
    }
}
