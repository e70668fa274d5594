//! CloudFormation's side of the template's custom resources: at start the local cloud sends
//! each one's function the request CloudFormation would (Create the first time, then Update
//! with the old properties), waits for the answer at its `ResponseURL`, and refuses to start
//! on a FAILED one, as a stack would roll back.
//!
//! The properties are resolved as CloudFormation resolves them (`Template::resolve`): `!Ref` of
//! a parameter is its (string) value, every scalar is sent as a string, `!If` follows the
//! template's conditions.
//! What was applied is kept in the data folder (`stack/<LogicalId>.json`), so a restart sends
//! an Update and the function's update path runs too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::loopback;
use crate::runtime::{FunctionHost, Invocation, Outcome};
use crate::template::Template;

/// A custom resource of the template: `Custom::*` or `AWS::CloudFormation::CustomResource`.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomResource {
    pub logical_id: String,
    pub resource_type: String,
    /// The function its `ServiceToken` (`!GetAtt <Function>.Arn`) names.
    pub function: String,
    /// `Properties`, unresolved.
    pub properties: Value,
}

/// Why a custom resource did not apply.
#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    #[error("{logical_id}: {reason}")]
    Failed { logical_id: String, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The template's custom resources, in template order.
pub fn declared(template: &Template) -> Vec<CustomResource> {
    let Some(resources) = template.root["Resources"].as_object() else {
        return Vec::new();
    };
    resources
        .iter()
        .filter_map(|(id, r)| {
            let kind = r["Type"].as_str()?;
            if !(kind.starts_with("Custom::") || kind == "AWS::CloudFormation::CustomResource") {
                return None;
            }
            let token = r["Properties"]["ServiceToken"]["!GetAtt"].as_str()?;
            let function = token.strip_suffix(".Arn")?.to_string();
            Some(CustomResource {
                logical_id: id.clone(),
                resource_type: kind.to_string(),
                function,
                properties: r["Properties"].clone(),
            })
        })
        .collect()
}

/// What was last applied to a custom resource, kept in the data folder.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Applied {
    physical_resource_id: String,
    properties: Value,
}

fn state_file(data_dir: &Path, logical_id: &str) -> PathBuf {
    data_dir.join("stack").join(format!("{logical_id}.json"))
}

type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// Where custom resources answer: `PUT <url>/<request id>`, as CloudFormation's pre-signed S3
/// URL takes the response body.
pub struct ResponseEndpoint {
    url: String,
    waiting: Waiting,
    _server: loopback::Server,
}

impl ResponseEndpoint {
    /// A receiver on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let waiting: Waiting = Arc::default();
        let app = axum::Router::new()
            .route("/responses/{id}", axum::routing::put(receive))
            .with_state(Arc::clone(&waiting));
        let listener = loopback::bind().await?;
        let url = format!("http://{}/responses", listener.local_addr()?);
        Ok(Self {
            url,
            waiting,
            _server: loopback::Server::start(listener, app),
        })
    }

    /// The `ResponseURL` of request `request_id`, and the response that will be put there.
    pub fn expect(&self, request_id: &str) -> (String, oneshot::Receiver<Value>) {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id.to_string(), tx);
        (format!("{}/{request_id}", self.url), rx)
    }
}

async fn receive(
    State(waiting): State<Waiting>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let Ok(response) = serde_json::from_slice::<Value>(&body) else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    let sender = waiting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match sender {
        Some(s) => {
            let _ = s.send(response);
            axum::http::StatusCode::OK
        }
        // S3 refuses a PUT to a URL whose signature does not match; so does this.
        None => axum::http::StatusCode::FORBIDDEN,
    }
}

/// Applies every custom resource of the template through its function, reporting each
/// invocation to `observe` (function, trigger, invocation).
pub async fn apply_all(
    template: &Template,
    values: &HashMap<String, String>,
    hosts: &HashMap<String, Arc<FunctionHost>>,
    data_dir: &Path,
    observe: &(dyn Fn(&str, &str, &Invocation) + Send + Sync),
) -> Result<(), CustomResourceError> {
    let resources = declared(template);
    if resources.is_empty() {
        return Ok(());
    }
    let endpoint = ResponseEndpoint::start().await?;
    for resource in resources {
        let failed = |reason: String| CustomResourceError::Failed {
            logical_id: resource.logical_id.clone(),
            reason,
        };
        let host = hosts
            .get(&resource.function)
            .ok_or_else(|| failed(format!("no function {}", resource.function)))?;
        let properties = template.resolve(values, &resource.properties);
        let file = state_file(data_dir, &resource.logical_id);
        let previous: Option<Applied> = match std::fs::read(&file) {
            Err(_) => None,
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(applied) => Some(applied),
                Err(e) => {
                    eprintln!(
                        "todo-local: {} is unreadable ({e}); sending a Create as for a new stack",
                        file.display()
                    );
                    None
                }
            },
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let (response_url, rx) = endpoint.expect(&request_id);
        let mut request = json!({
            "RequestType": if previous.is_some() { "Update" } else { "Create" },
            "ServiceToken": crate::template::function_arn(&resource.function),
            "ResponseURL": response_url,
            "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/todo-local/00000000-0000-0000-0000-000000000000",
            "RequestId": request_id,
            "ResourceType": resource.resource_type,
            "LogicalResourceId": resource.logical_id,
            "ResourceProperties": properties,
        });
        if let Some(previous) = &previous {
            request["PhysicalResourceId"] = json!(previous.physical_resource_id);
            request["OldResourceProperties"] = previous.properties.clone();
        }
        let trigger = format!(
            "{} {}",
            resource.resource_type,
            request["RequestType"].as_str().unwrap_or_default()
        );
        let invocation = host
            .invoke(serde_json::to_vec(&request).expect("JSON"))
            .await;
        observe(&resource.function, &trigger, &invocation);
        if !matches!(invocation.outcome, Outcome::Ok(_)) {
            return Err(failed(format!(
                "the function did not answer ({:?})",
                invocation.outcome
            )));
        }
        // The function answers before it returns; a short wait covers a slow PUT.
        let response = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| failed("no response at the ResponseURL".into()))?;
        if response["Status"] != "SUCCESS" {
            let reason = response["Reason"]
                .as_str()
                .unwrap_or("FAILED without a reason");
            return Err(failed(reason.to_string()));
        }
        if let Some(reason) = response["Reason"].as_str() {
            eprintln!("todo-local: {}: {reason}", resource.logical_id);
        }
        let applied = Applied {
            physical_resource_id: response["PhysicalResourceId"]
                .as_str()
                .unwrap_or(&resource.logical_id)
                .to_string(),
            properties: request["ResourceProperties"].clone(),
        };
        let file = state_file(data_dir, &resource.logical_id);
        std::fs::create_dir_all(file.parent().expect("in stack/"))?;
        std::fs::write(file, serde_json::to_vec_pretty(&applied).expect("JSON"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topics_resource_resolves_as_cloudformation_sends_it() {
        let template = Template::workspace().unwrap();
        let resources = declared(&template);
        let topics = resources
            .iter()
            .find(|r| r.resource_type == "Custom::KafkaTopics")
            .expect("the KafkaTopics resource");
        assert_eq!(topics.function, "TopicsFunction");
        let values = HashMap::from([
            ("KafkaReplicationFactor".to_string(), "1".to_string()),
            ("CreateS3Endpoint".to_string(), "false".to_string()),
        ]);
        let props = template.resolve(&values, &topics.properties);
        assert_eq!(
            props["ServiceToken"],
            crate::template::function_arn("TopicsFunction")
        );
        assert_eq!(
            props["ServiceTimeout"], "300",
            "numbers are sent as strings"
        );
        assert_eq!(
            props["ResponseRoute"], "nat-or-existing-endpoint",
            "!If follows the condition"
        );
        let first = &props["Topics"][0];
        assert_eq!(first["Name"], "todo.task.events");
        assert_eq!(
            first["Partitions"], "3",
            "a parameter's default, as a string"
        );
        assert_eq!(first["ReplicationFactor"], "1", "a given value wins");
        assert_eq!(first["RetentionHours"], "168");
        let names: Vec<&str> = props["Topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["Name"].as_str().unwrap())
            .collect();
        use todo_schema::event::{TOPIC_DEAD_LETTER, TOPIC_REMINDERS, TOPIC_TASK_EVENTS};
        assert_eq!(
            names,
            [TOPIC_TASK_EVENTS, TOPIC_REMINDERS, TOPIC_DEAD_LETTER],
            "the stack creates the contract's topics"
        );
        let with_endpoint = template.resolve(&HashMap::new(), &topics.properties);
        assert_eq!(with_endpoint["ResponseRoute"], "S3GatewayEndpoint");
    }
}
