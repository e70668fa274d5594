//! The CloudFormation custom resource protocol: a Create, Update or Delete request in, one
//! response PUT to the request's pre-signed `ResponseURL` out (AWS CloudFormation User Guide,
//! "Custom resource request objects" and "Custom resource response objects").
//!
//! A request is always answered, even a malformed one, as long as it says where to answer:
//! an unanswered request holds the stack until the resource's `ServiceTimeout`. Delete never
//! touches the cluster: the topics hold the system's events, and a stack deleted (or a create
//! rolled back) must not take them along.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use todo_kafka::config::KafkaConfig;
use todo_lambda::retry::{Backoff, Failure, Policy, Retries};
use tokio::time::Instant;

use crate::cluster::{Applied, reconcile};
use crate::spec::topics;

/// The physical id of the topics resource: one per stack, stable across updates (a changed id
/// would make CloudFormation send a Delete for the old one).
pub const PHYSICAL_ID: &str = "kafka-topics";

/// The response CloudFormation reads from the `ResponseURL`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    /// Required when FAILED; on SUCCESS, what was asked for and kept as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    /// `Fn::GetAtt`-able values: the topic names, comma-separated, under `Topics`.
    pub data: HashMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

/// Where a request must be answered, and the ids the answer copies verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplyTo {
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

impl ReplyTo {
    fn answer(&self, status: Status, reason: Option<String>) -> Response {
        Response {
            status,
            reason: reason.map(|r| truncate(&r)),
            physical_resource_id: self
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| PHYSICAL_ID.to_string()),
            stack_id: self.stack_id.clone(),
            request_id: self.request_id.clone(),
            logical_resource_id: self.logical_resource_id.clone(),
            no_echo: false,
            data: HashMap::new(),
        }
    }
}

/// CloudFormation shows a reason in its events; keep it readable and under the 4 KB response
/// limit whatever a broker said.
fn truncate(reason: &str) -> String {
    const MAX: usize = 1_000;
    if reason.len() <= MAX {
        return reason.to_string();
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &reason[..end])
}

/// Handles one invocation payload. `None` when it says nowhere to answer (not a custom
/// resource request): the invocation then fails, since no one is waiting for a response.
pub async fn handle(
    config: &Result<KafkaConfig, String>,
    payload: Value,
    deadline: Instant,
) -> Option<(ReplyTo, Response)> {
    let reply_to: ReplyTo = serde_json::from_value(payload.clone()).ok()?;
    let request: CloudFormationCustomResourceRequest = match serde_json::from_value(payload) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("not a custom resource request: {e}");
            return Some((
                reply_to.clone(),
                reply_to.answer(Status::Failed, Some(reason)),
            ));
        }
    };
    let properties = match &request {
        CloudFormationCustomResourceRequest::Create(r) => &r.resource_properties,
        CloudFormationCustomResourceRequest::Update(r) => &r.resource_properties,
        CloudFormationCustomResourceRequest::Delete(_) => {
            tracing::info!("stack delete: the topics and their data are kept");
            return Some((reply_to.clone(), reply_to.answer(Status::Success, None)));
        }
        _ => {
            let reason = "an unknown RequestType".to_string();
            return Some((
                reply_to.clone(),
                reply_to.answer(Status::Failed, Some(reason)),
            ));
        }
    };
    let outcome = async {
        let wanted = topics(properties)?;
        let config = config.as_ref().map_err(Clone::clone)?;
        let applied = reconcile(config, &wanted, deadline)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((wanted, applied))
    }
    .await;
    let response = match outcome {
        Ok((wanted, Applied { changes, kept })) => {
            tracing::info!(?changes, ?kept, "topics reconciled");
            let reason = (!kept.is_empty()).then(|| kept.join("; "));
            let mut response = reply_to.answer(Status::Success, reason);
            let names: Vec<&str> = wanted.iter().map(|t| t.name.as_str()).collect();
            response.data.insert("Topics".into(), names.join(","));
            response
        }
        Err(reason) => {
            tracing::error!(%reason, "topics failed");
            reply_to.answer(Status::Failed, Some(reason))
        }
    };
    Some((reply_to, response))
}

/// Why the answer did not reach CloudFormation's response URL.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Unreachable, timed out or a server error on every try, or no time left to try.
    #[error("{0}")]
    Unavailable(String),
    /// Refused (a 4xx: the pre-signed URL expired or is not for this answer): a retry gets the
    /// same.
    #[error("{0}")]
    Refused(String),
}

/// PUTs `response` to the pre-signed URL: no Content-Type (the URL is signed without one), a
/// few attempts on a transport error or 5xx, within `deadline`.
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    response: &Response,
    deadline: Instant,
) -> Result<(), AnswerError> {
    let body = serde_json::to_vec(response).map_err(|e| AnswerError::Refused(e.to_string()))?;
    let mut retries = Retries::new(Policy {
        backoff: ANSWER_BACKOFF,
        attempts: Some(3),
        deadline: Some(deadline),
    });
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AnswerError::Unavailable(String::new()));
        }
        let failure = match http.put(url).body(body.clone()).timeout(left).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status().is_client_error() => Failure::Permanent(AnswerError::Refused(
                format!("the response URL answered {}", r.status()),
            )),
            Ok(r) => Failure::Transient(AnswerError::Unavailable(format!(
                "the response URL answered {}",
                r.status()
            ))),
            Err(e) => {
                Failure::Transient(AnswerError::Unavailable(format!("the response URL: {e}")))
            }
        };
        retries.after(failure).await?;
    }
}

/// Waits between tries of the answer to CloudFormation: 300 ms, then 600 ms.
const ANSWER_BACKOFF: Backoff =
    Backoff::linear(Duration::from_millis(300), Duration::from_millis(600));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unreachable_kafka() -> Result<KafkaConfig, String> {
        Ok(KafkaConfig::plaintext(vec!["127.0.0.1:1".into()]))
    }

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../events/topics/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).unwrap()
    }

    #[tokio::test]
    async fn delete_answers_success_and_touches_nothing() {
        // The broker is unreachable: a delete that tried to reach it would fail or time out.
        let (reply_to, response) = handle(
            &unreachable_kafka(),
            fixture("delete.json"),
            tokio::time::Instant::now() + Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(response.status, Status::Success);
        assert_eq!(response.physical_resource_id, PHYSICAL_ID);
        assert_eq!(response.request_id, reply_to.request_id);
    }

    #[tokio::test]
    async fn a_bad_request_is_answered_failed_with_the_reason() {
        let mut create = fixture("create.json");
        create["ResourceProperties"]["Topics"][0]["Partitions"] = json!("0");
        let (_, response) = handle(
            &unreachable_kafka(),
            create,
            Instant::now() + Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(response.status, Status::Failed);
        assert!(response.reason.unwrap().contains("Partitions"));

        let mut odd = fixture("create.json");
        odd["RequestType"] = json!("Replace");
        let (_, response) = handle(&unreachable_kafka(), odd, Instant::now())
            .await
            .unwrap();
        assert_eq!(response.status, Status::Failed);
        assert!(
            response
                .reason
                .unwrap()
                .contains("not a custom resource request")
        );

        let (_, response) = handle(
            &Err("KAFKA_BOOTSTRAP_SERVERS is not set".into()),
            fixture("create.json"),
            Instant::now(),
        )
        .await
        .unwrap();
        assert_eq!(
            response.reason.as_deref(),
            Some("KAFKA_BOOTSTRAP_SERVERS is not set")
        );
        assert!(
            handle(&unreachable_kafka(), json!({"hello": 1}), Instant::now())
                .await
                .is_none(),
            "nowhere to answer"
        );
    }

    #[tokio::test]
    async fn an_unreachable_cluster_fails_by_the_deadline() {
        let started = Instant::now();
        let (_, response) = handle(
            &unreachable_kafka(),
            fixture("create.json"),
            started + Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert_eq!(response.status, Status::Failed);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_response_has_aws_field_names() {
        // aws_lambda_events' response type mirrors AWS's documented response object; ours
        // must read back as it (and leave Reason out on success rather than send null).
        let reply_to: ReplyTo = serde_json::from_value(fixture("update.json")).unwrap();
        let mut ours = reply_to.answer(Status::Failed, Some("x".repeat(5_000)));
        ours.data.insert("Topics".into(), "a,b".into());
        let text = serde_json::to_string(&ours).unwrap();
        let theirs: aws_lambda_events::event::cloudformation::CloudFormationCustomResourceResponse =
            serde_json::from_str(&text).unwrap();
        assert_eq!(theirs.physical_resource_id, "kafka-topics");
        assert_eq!(theirs.request_id, reply_to.request_id);
        assert_eq!(theirs.data["Topics"], "a,b");
        assert!(theirs.reason.unwrap().len() < 1_100);
        let success = serde_json::to_value(reply_to.answer(Status::Success, None)).unwrap();
        assert_eq!(success["Status"], "SUCCESS");
        assert!(success.get("Reason").is_none());
    }
}
