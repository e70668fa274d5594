//! The DynamoDB Streams mapping: polls a table's stream, filters, batches, invokes, and handles
//! partial batch failures (retry from the first failed record), function errors (retry, bisect),
//! bounded retries and the on-failure destination (a JSON-lines file in the data folder), with
//! the checkpoint kept on disk so a restart resumes where it stopped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynoxide::Database;
use serde_json::{Value, json};

use super::filter::passes;
use crate::runtime::{FunctionHost, Outcome};
use crate::streams::StreamCursor;
use crate::template::FunctionDefinition;

/// How a function consumes a table's stream.
pub struct StreamMapping {
    pub host: Arc<FunctionHost>,
    pub table: String,
    pub batch_size: usize,
    pub window: Duration,
    pub max_retries: u32,
    pub bisect: bool,
    pub filters: Vec<Value>,
    pub checkpoint_file: PathBuf,
    pub failure_file: PathBuf,
    attempts: HashMap<String, u32>,
    limit: Option<usize>,
    waiting_since: Option<Instant>,
    /// Where reading the stream has got to, and what was read and not yet settled.
    cursor: Option<StreamCursor>,
    unsettled: Vec<Value>,
}

/// Sequence numbers are decimal strings: compare by length, then text.
fn seq_key(s: &str) -> (usize, &str) {
    (s.len(), s)
}

fn seq(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

impl StreamMapping {
    /// The mapping a `DynamoDB` event of `f` declares, if `event` is one.
    pub fn from_event(
        f: &FunctionDefinition,
        event: &Value,
        host: Arc<FunctionHost>,
        data_dir: &std::path::Path,
    ) -> Option<Self> {
        if event["Type"] != "DynamoDB" {
            return None;
        }
        let p = &event["Properties"];
        let batching = super::Batching::of(p);
        let table = p["Stream"]["!GetAtt"]
            .as_str()?
            .split('.')
            .next()?
            .to_string();
        let filters = p["FilterCriteria"]["Filters"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| serde_json::from_str(f["Pattern"].as_str()?).ok())
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            host,
            table,
            batch_size: batching.batch_size,
            window: batching.window,
            max_retries: batching.max_retries,
            bisect: p["BisectBatchOnFunctionError"].as_bool().unwrap_or(false),
            filters,
            checkpoint_file: data_dir.join(format!("esm/{}-stream.checkpoint", f.logical_id)),
            failure_file: data_dir.join(format!("failures/{}.jsonl", f.logical_id)),
            attempts: HashMap::new(),
            limit: None,
            waiting_since: None,
            cursor: None,
            unsettled: Vec::new(),
        })
    }

    fn checkpoint(&self) -> String {
        std::fs::read_to_string(&self.checkpoint_file)
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn save(&self, sequence: &str) {
        if let Some(dir) = self.checkpoint_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&self.checkpoint_file, sequence);
    }

    fn send_to_failure_destination(&self, records: &[Value], reason: &str) {
        if let Some(dir) = self.failure_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let lines: String = records
            .iter()
            .map(|r| {
                json!({"reason": reason, "function": self.host.name(), "record": r}).to_string()
                    + "\n"
            })
            .collect();
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.failure_file)
        {
            let _ = f.write_all(lines.as_bytes());
        }
    }

    /// One poll: at most one batch; returns how many records were settled (applied, filtered out
    /// or sent to the failure destination).
    pub async fn poll(
        &mut self,
        db: &Database,
        observe: &(dyn Fn(&str, &str, &crate::runtime::Invocation) + Send + Sync),
    ) -> usize {
        let after = self.checkpoint();
        let table = self.table.clone();
        let cursor = self
            .cursor
            .get_or_insert_with(|| StreamCursor::new(&table, Some(after.clone())));
        if let Ok(new) = cursor.read_new(db) {
            self.unsettled.extend(new);
        }
        self.unsettled
            .retain(|r| after.is_empty() || seq_key(&seq(r)) > seq_key(&after));
        let pending = self.unsettled.clone();
        // Filtered-out records are consumed without an invocation, as Lambda does.
        let mut settled = 0;
        let mut batch = Vec::new();
        let mut last_skipped = None;
        for r in pending {
            if !passes(&self.filters, &r) {
                if batch.is_empty() {
                    last_skipped = Some(seq(&r));
                    settled += 1;
                }
                continue;
            }
            batch.push(r);
            if batch.len() >= self.limit.unwrap_or(self.batch_size) {
                break;
            }
        }
        if let Some(s) = &last_skipped {
            self.save(s);
        }
        if batch.is_empty() {
            return settled;
        }
        if batch.len() < self.batch_size && self.limit.is_none() {
            let since = *self.waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() < self.window {
                return settled;
            }
        }
        self.waiting_since = None;
        let arn = format!(
            "arn:aws:dynamodb:us-east-1:000000000000:table/{}/stream/local",
            self.table
        );
        let records: Vec<Value> = batch
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["awsRegion"] = json!("us-east-1");
                r["eventSourceARN"] = json!(arn);
                r
            })
            .collect();
        let payload = json!({ "Records": records }).to_string().into_bytes();
        let invocation = self.host.invoke(payload).await;
        observe(
            self.host.name(),
            &format!("stream {}", self.table),
            &invocation,
        );
        let first = seq(&batch[0]);
        let failed_from = match &invocation.outcome {
            Outcome::Ok(body) => {
                let response: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                response["batchItemFailures"].as_array().and_then(|fs| {
                    fs.iter()
                        .filter_map(|f| f["itemIdentifier"].as_str())
                        .filter_map(|id| batch.iter().position(|r| seq(r) == id))
                        .min()
                })
            }
            _ => Some(0),
        };
        let Some(i) = failed_from else {
            self.attempts.remove(&first);
            self.limit = None;
            self.save(&seq(&batch[batch.len() - 1]));
            return settled + batch.len();
        };
        // Everything before the first failure is done.
        if i > 0 {
            self.save(&seq(&batch[i - 1]));
        }
        let failed_seq = seq(&batch[i]);
        let attempts = self.attempts.entry(failed_seq.clone()).or_insert(0);
        *attempts += 1;
        if *attempts > self.max_retries {
            let reason = format!(
                "{:?} after {} retries",
                invocation.outcome, self.max_retries
            );
            self.send_to_failure_destination(&batch[i..], &reason);
            self.attempts.remove(&failed_seq);
            self.limit = None;
            self.save(&seq(&batch[batch.len() - 1]));
            return settled + batch.len();
        }
        if !matches!(invocation.outcome, Outcome::Ok(_)) && self.bisect && batch.len() > 1 {
            self.limit = Some(batch.len().div_ceil(2));
        }
        settled + i
    }
}
