//! The embedded DynamoDB engine in a child process (the benchmark's own binary run with
//! [`ENGINE_ARG`]), so the benchmark's process is the function alone and its CPU time
//! ([`cpu_seconds`]) is what the function would spend; the engine's is not (in AWS, DynamoDB's
//! own work costs a function only the round trip).

use std::process::Stdio;

use serde_json::Value;
use todo_local::dynamodb::EmbeddedDynamo;
use todo_local::dynamodb::accounting::PartitionLimits;
use todo_local::dynamodb::report::CapacityReport;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The argument that makes a benchmark's binary serve the engine ([`serve`]).
pub const ENGINE_ARG: &str = "--engine";

/// This process's CPU time so far (user and system), from `/proc/self/stat`.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// The CPU time (user and system) the calling thread has used, in seconds.
pub fn thread_cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/thread-self/stat")
}

fn cpu_seconds_of(file: &str) -> f64 {
    let stat = std::fs::read_to_string(file).expect(file);
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 2..]
        .split(' ')
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

/// The engine in a child process, driven over its standard input.
pub struct Engine {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    /// Its DynamoDB endpoint.
    pub endpoint: String,
}

impl Engine {
    /// Starts this binary with [`ENGINE_ARG`]; its `main` must call [`serve`] for it.
    pub async fn start() -> Self {
        Self::start_in(None).await
    }

    /// As [`Self::start`], its tables in a file under `dir` when given (kept between runs, and
    /// held in the page cache rather than in the process: a million audit entries with their
    /// indexes outgrow memory), else in memory.
    pub async fn start_in(dir: Option<&std::path::Path>) -> Self {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("own path"))
            .arg(ENGINE_ARG)
            .args(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the engine process");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let endpoint = stdout.next_line().await.expect("read").expect("endpoint");
        Self {
            child,
            stdin,
            stdout,
            endpoint,
        }
    }

    /// An SDK client for it.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&todo_local::dynamodb::sdk_config(&self.endpoint).await)
    }

    async fn ask(&mut self, line: &str) -> String {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("to the engine");
        self.stdout
            .next_line()
            .await
            .expect("read")
            .expect("an answer")
    }

    /// From now on: `latency` on every call (`5ms`, or empty for none), AWS's partition limits,
    /// and the accounting afresh.
    pub async fn go(&mut self, latency: &str) {
        assert_eq!(self.ask(&format!("go {latency}")).await, "ok");
    }

    /// What every key consumed since [`Self::go`].
    pub async fn capacity(&mut self) -> CapacityReport {
        serde_json::from_str(&self.ask("capacity").await).expect("a report")
    }

    /// Every record of `table`'s stream so far, as the engine's stream reader gives them.
    pub async fn stream(&mut self, table: &str) -> Vec<Value> {
        serde_json::from_str(&self.ask(&format!("stream {table}")).await).expect("records")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// [`ENGINE_ARG`] `[DIR]`: an engine in memory, or in a file under DIR; prints its endpoint,
/// then answers each line of standard input with one line: `go LATENCY` (`ok`), `capacity` (the
/// accounting as JSON), `stream TABLE` (the stream's records as a JSON array).
pub async fn serve() {
    let engine = match std::env::args().nth(2) {
        Some(dir) => EmbeddedDynamo::open(
            std::path::Path::new(&dir),
            &todo_local::template::Template::workspace().expect("template.yaml"),
        )
        .await
        .expect("engine"),
        None => EmbeddedDynamo::start_in_memory().await.expect("engine"),
    };
    println!("{}", engine.endpoint());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match line.split_once(' ').unwrap_or((line.as_str(), "")) {
            ("go", latency) => {
                engine.set_latency(latency.parse().ok());
                engine.set_partition_limits(Some(PartitionLimits::default()));
                engine.reset_capacity();
                println!("ok");
            }
            ("capacity", _) => {
                println!(
                    "{}",
                    serde_json::to_string(&engine.capacity()).expect("json")
                );
            }
            ("stream", table) => {
                let records =
                    todo_local::streams::read_all(engine.database(), table).expect("the stream");
                println!("{}", Value::Array(records));
            }
            (other, _) => panic!("unknown engine command {other}"),
        }
    }
}
