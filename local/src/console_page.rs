//! The local cloud's console as a web page: `GET /_console` on the HTTP API's port (a path no
//! route of the template has). Plain HTML and a little JavaScript (`console_page.html`, no build
//! step) that reads `GET /_console/state` every second: the pipeline as a picture with each
//! function's invocations, failures and each Kafka mapping's lag; failures first; the latest
//! invocations with their outcome and a link to their log (`GET /_console/log/<Function>?request=
//! <id>`); what each far end received; the dead letters with their reason and the command that
//! redrives them. Everything comes from what the cloud already keeps: the console's reading of
//! each invocation (its embedded metrics and log lines), the mappings' lag and dead letters, and
//! the far ends' records.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::console::Console;
use crate::esm::stats::MappingStats;
use crate::far_end::Log;
use crate::push_service::PushMessage;
use crate::ses::SentEmail;
use crate::template::Template;
use crate::webhook::Received;

/// The page itself.
const PAGE: &str = include_str!("console_page.html");

/// How many of each far end's latest deliveries the page lists.
const LATEST: usize = 5;

/// One stage of the pipeline picture: the functions a kind of trigger invokes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    pub name: String,
    /// Logical ids.
    pub functions: Vec<String>,
}

/// The stages of `template`, in the order an event travels: the API and the schedules that
/// write the table, its stream, the task events' consumers, the reminders' consumers, the topic
/// subscriptions, then the rest (WebSocket routes, custom resources).
pub fn stages(template: &Template) -> Vec<Stage> {
    let mut by_stage: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
    for f in template.functions() {
        let mut placed = false;
        for (_, event) in &f.events {
            let properties = &event["Properties"];
            let (order, name) = match event["Type"].as_str().unwrap_or_default() {
                "HttpApi" => (0, "HTTP API".to_string()),
                "Schedule" | "ScheduleV2" => (1, "Schedules".to_string()),
                "DynamoDB" => (2, "Table stream".to_string()),
                "MSK" => {
                    let topic = properties["Topics"][0].as_str().unwrap_or_default();
                    let order = if topic.contains("reminders") { 4 } else { 3 };
                    (order, format!("Kafka {topic}"))
                }
                "SNS" => (5, "SNS".to_string()),
                _ => continue,
            };
            placed = true;
            let list = by_stage.entry((order, name)).or_default();
            if !list.contains(&f.logical_id) {
                list.push(f.logical_id.clone());
            }
        }
        if !placed {
            by_stage
                .entry((6, "WebSocket and the rest".to_string()))
                .or_default()
                .push(f.logical_id.clone());
        }
    }
    by_stage
        .into_iter()
        .map(|((_, name), functions)| Stage { name, functions })
        .collect()
}

/// What the page reads.
pub struct ConsolePage {
    pub console: Arc<Console>,
    pub mappings: Arc<MappingStats>,
    pub stages: Vec<Stage>,
    pub webhook: Log<Received>,
    pub email: Log<SentEmail>,
    pub push: Log<PushMessage>,
    pub data_dir: PathBuf,
    /// The broker's address, for the redrive commands.
    pub kafka_bootstrap: String,
}

impl ConsolePage {
    /// The answer to `GET path` when the path is the console's (`/_console...`), else `None`.
    pub fn answer(&self, method: &str, path: &str, query: Option<&str>) -> Option<Response> {
        let rest = path.strip_prefix("/_console")?;
        if method != "GET" {
            // RFC 9110, 15.5.6: a 405 names the methods the resource allows.
            return Some((StatusCode::METHOD_NOT_ALLOWED, [("allow", "GET")]).into_response());
        }
        Some(match rest {
            "" | "/" => (
                [
                    ("content-type", "text/html; charset=utf-8"),
                    ("cache-control", "no-store"),
                ],
                PAGE,
            )
                .into_response(),
            "/state" => (
                [
                    ("content-type", "application/json"),
                    ("cache-control", "no-store"),
                ],
                self.state().to_string(),
            )
                .into_response(),
            log if log.starts_with("/log/") => {
                let function = &log["/log/".len()..];
                let request = query
                    .map(crate::apigw::query_pairs)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|(k, _)| k == "request")
                    .map(|(_, v)| v);
                self.log(function, request.as_deref())
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        })
    }

    /// Everything the page shows, as JSON.
    pub fn state(&self) -> Value {
        let functions = self.console.functions();
        let count = |function: &str, name: &str| {
            functions
                .get(function)
                .and_then(|f| f.counts.get(name))
                .copied()
                .unwrap_or(0)
        };
        let recent = self.console.recent();
        let failures: Vec<_> = recent.iter().filter(|r| r.failed).cloned().collect();
        let latest = |mut all: Vec<Value>| {
            let total = all.len();
            all.reverse();
            all.truncate(LATEST);
            json!({"count": total, "latest": all})
        };
        let webhook = latest(
            self.webhook
                .all()
                .iter()
                .map(|r| {
                    json!({
                        "at": r.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "what": format!("{} {} answered {}", r.method, r.path, r.status),
                        "failed": r.status >= 400,
                    })
                })
                .collect(),
        );
        let email = latest(
            self.email
                .all()
                .iter()
                .map(|m| {
                    json!({
                        "at": m.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "what": format!("to {}: {}", m.to.join(", "), m.subject),
                        "failed": false,
                    })
                })
                .collect(),
        );
        let push = latest(
            self.push
                .all()
                .iter()
                .map(|m| {
                    json!({
                        "at": m.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "what": m.payload["title"].as_str().map_or_else(|| m.payload.to_string(), str::to_string),
                        "failed": false,
                    })
                })
                .collect(),
        );
        let dead_letters: Vec<Value> = self
            .mappings
            .recent()
            .into_iter()
            .map(|d| {
                let redrive = format!(
                    "KAFKA_BOOTSTRAP_SERVERS={} cargo run -p todo-admin -- dead-letters redrive --offset {} --apply",
                    self.kafka_bootstrap, d.offset
                );
                let mut value = json!(d);
                value["redrive"] = json!(redrive);
                value
            })
            .collect();
        let failure_file = self.data_dir.join("failures/PublisherFunction.jsonl");
        let publisher_failures = std::fs::read_to_string(&failure_file)
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
            .unwrap_or(0);
        let (lag, _) = self.mappings.lag();
        json!({
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "stages": self.stages,
            "functions": functions,
            "lags": self.mappings.lags(),
            "lag": lag,
            "failures": failures,
            "invocations": recent,
            "far_ends": {
                "inbox": {"count": count("InAppChannelFunction", "Applied")},
                "webhook": webhook,
                "email": email,
                "push": push,
                "websocket": {"count": count("RealtimeChannelFunction", "Delivered")},
            },
            "dead_letters": dead_letters,
            // The publisher sets aside a stream record that is no event on the dead-letter
            // topic itself (no mapping's retry): counted here, listed by todo-admin.
            "publisher_dead_lettered": {
                "count": count("PublisherFunction", "DeadLettered"),
                "list": format!(
                    "KAFKA_BOOTSTRAP_SERVERS={} cargo run -p todo-admin -- dead-letters list",
                    self.kafka_bootstrap
                ),
            },
            "dead_lettered": self.mappings.dead_letters() + count("PublisherFunction", "DeadLettered"),
            "publisher_failures": {
                "count": publisher_failures,
                "redrive": format!(
                    "KAFKA_BOOTSTRAP_SERVERS={} cargo run -p todo-admin -- failures redrive {} --apply",
                    self.kafka_bootstrap,
                    failure_file.display()
                ),
            },
        })
    }

    /// The function's log: the whole file, or one invocation's lines (`START` to `REPORT`).
    fn log(&self, function: &str, request: Option<&str>) -> Response {
        let valid = !function.is_empty() && function.chars().all(|c| c.is_ascii_alphanumeric());
        let text = valid
            .then(|| {
                std::fs::read_to_string(crate::function_log::file_of(&self.data_dir, function)).ok()
            })
            .flatten();
        let Some(text) = text else {
            return (StatusCode::NOT_FOUND, format!("no log for {function}\n")).into_response();
        };
        let body = match request {
            None => text,
            Some(id) => {
                let mut inside = false;
                let mut lines = Vec::new();
                for line in text.lines() {
                    if line.contains(&format!("START RequestId: {id} ")) {
                        inside = true;
                    }
                    if inside {
                        lines.push(line);
                    }
                    if inside && line.contains(&format!("REPORT RequestId: {id}")) {
                        break;
                    }
                }
                if lines.is_empty() {
                    return (
                        StatusCode::NOT_FOUND,
                        format!("no invocation {id} in {function}'s log\n"),
                    )
                        .into_response();
                }
                lines.join("\n") + "\n"
            }
        };
        ([("content-type", "text/plain; charset=utf-8")], body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template's functions, placed by what triggers them, in the order events travel.
    #[test]
    fn the_pipeline_follows_the_templates_triggers() {
        let template = Template::workspace().unwrap();
        let stages = stages(&template);
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "HTTP API",
                "Schedules",
                "Table stream",
                "Kafka todo.task.events",
                "Kafka todo.reminders",
                "SNS",
                "WebSocket and the rest"
            ]
        );
        let of = |stage: &str| -> Vec<&str> {
            stages
                .iter()
                .find(|s| s.name == stage)
                .unwrap()
                .functions
                .iter()
                .map(String::as_str)
                .collect()
        };
        assert_eq!(of("Table stream"), ["PublisherFunction"]);
        assert!(of("Kafka todo.task.events").contains(&"AuditConsumerFunction"));
        assert!(of("Kafka todo.reminders").contains(&"InAppChannelFunction"));
        assert!(of("Schedules").contains(&"SweepRemindersFunction"));
        assert!(of("HTTP API").contains(&"CreateTaskFunction"));
        let placed: usize = stages.iter().map(|s| s.functions.len()).sum();
        let distinct: std::collections::BTreeSet<&str> = stages
            .iter()
            .flat_map(|s| s.functions.iter().map(String::as_str))
            .collect();
        assert!(distinct.len() == template.functions().len() && placed >= distinct.len());
    }
}
