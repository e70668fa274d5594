//! The DynamoDB Streams mapping: polls a table's stream, filters, batches, invokes, and handles
//! partial batch failures (retry from the first failed record), function errors (retry, bisect),
//! bounded retries and the on-failure destination (a JSON-lines file in the data folder holding
//! what Lambda sends an SQS destination: AWS's invocation record naming the stream, shard and
//! sequence range, not the records; `todo-admin failures redrive` reads it), with the
//! checkpoint kept on disk so a restart resumes where it stopped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use dynoxide::Database;
use serde_json::{Value, json};

use super::filter::passes;
use crate::runtime::{FunctionHost, Outcome};
use crate::streams::{StreamCursor, locate, sequence_order};

/// How a function consumes a table's stream.
pub struct StreamMapping {
    pub host: Arc<FunctionHost>,
    pub table: String,
    /// (A stream mapping applies no `MaximumRecordAgeInSeconds`.)
    pub batching: super::Batching,
    pub filters: Vec<Value>,
    pub checkpoint_file: PathBuf,
    pub failure_file: PathBuf,
    attempts: HashMap<String, u32>,
    limit: Option<usize>,
    waiting_since: Option<Instant>,
    /// Where reading the stream has got to, and what was read and not yet settled.
    cursor: Option<StreamCursor>,
    unsettled: Vec<Value>,
    /// The table stream's ARN, looked up once (it does not change while the engine runs).
    stream_arn: Option<String>,
}

fn seq(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

impl StreamMapping {
    /// The mapping a `DynamoDB` event with these `Properties` declares for `host`'s function;
    /// `None` without a stream.
    pub fn from_properties(
        p: &Value,
        host: Arc<FunctionHost>,
        data_dir: &std::path::Path,
    ) -> Option<Self> {
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
        let function = host.name();
        let checkpoint_file = data_dir.join(format!("esm/{function}-stream.checkpoint"));
        let failure_file = data_dir.join(format!("failures/{function}.jsonl"));
        Some(Self {
            host,
            table,
            batching: super::Batching::of(p),
            filters,
            checkpoint_file,
            failure_file,
            attempts: HashMap::new(),
            limit: None,
            waiting_since: None,
            cursor: None,
            unsettled: Vec::new(),
            stream_arn: None,
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

    /// Records a failed batch as Lambda does for an SQS on-failure destination (AWS's example:
    /// `events/failures/stream-batch-failure.json`): where the records were, not the records.
    fn send_to_failure_destination(
        &self,
        db: &Database,
        records: &[Value],
        outcome: &Outcome,
        invocations: u32,
    ) {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        let (stream_arn, shard_id) = locate(db, &self.table, &seq(first)).unwrap_or_default();
        let arrival = |r: &Value| {
            r["dynamodb"]["ApproximateCreationDateTime"]
                .as_f64()
                .and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0))
                .unwrap_or_else(chrono::Utc::now)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let function_error = match outcome {
            Outcome::Ok(_) => None,
            _ => Some("Unhandled"),
        };
        let line = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4().to_string(),
                "functionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{}", self.host.name()),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": function_error,
            },
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": seq(first),
                "endSequenceNumber": seq(last),
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": records.len(),
                "streamArn": stream_arn,
            },
        });
        if let Some(dir) = self.failure_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.failure_file)
        {
            let _ = writeln!(f, "{line}");
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
            .retain(|r| after.is_empty() || sequence_order(&seq(r)) > sequence_order(&after));
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
            if batch.len() >= self.limit.unwrap_or(self.batching.batch_size) {
                break;
            }
        }
        if let Some(s) = &last_skipped {
            self.save(s);
        }
        if batch.is_empty() {
            return settled;
        }
        if batch.len() < self.batching.batch_size && self.limit.is_none() {
            let since = *self.waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() < self.batching.window {
                return settled;
            }
        }
        self.waiting_since = None;
        // The engine's own stream ARN, as AWS puts the stream's ARN in every record.
        if self.stream_arn.is_none() {
            self.stream_arn = locate(db, &self.table, &seq(&batch[0])).map(|(arn, _)| arn);
        }
        let arn = self.stream_arn.clone().unwrap_or_else(|| {
            format!(
                "arn:aws:dynamodb:us-east-1:000000000000:table/{}/stream/local",
                self.table
            )
        });
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
        if *attempts > self.batching.max_retries {
            let invocations = *attempts;
            self.send_to_failure_destination(db, &batch[i..], &invocation.outcome, invocations);
            self.attempts.remove(&failed_seq);
            self.limit = None;
            self.save(&seq(&batch[batch.len() - 1]));
            return settled + batch.len();
        }
        if let Some(half) = self.batching.split(&invocation.outcome, batch.len()) {
            self.limit = Some(half);
        }
        settled + i
    }
}
