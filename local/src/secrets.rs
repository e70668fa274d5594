//! Secrets Manager on 127.0.0.1: the secrets `template.yaml` creates (`AWS::SecretsManager::Secret`),
//! served over the real GetSecretValue API (JSON 1.1, `X-Amz-Target: secretsmanager.GetSecretValue`)
//! so the functions read them through the AWS SDK exactly as they do in AWS, with
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` pointing here. `!Ref` to a secret resolves to its local ARN.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::iam::{Gate, Request};
use crate::template::Template;

/// A running endpoint and what it holds: `logical id -> (ARN, value)`.
pub struct LocalSecrets {
    url: String,
    arns: HashMap<String, String>,
    gate: Gate,
}

#[derive(Clone)]
struct Served {
    secrets: Arc<HashMap<String, (String, String)>>,
    gate: Gate,
}

/// The local ARN of the secret `logical_id`.
pub fn arn_of(logical_id: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{logical_id}-local")
}

/// The logical ids of the secrets the template creates.
pub fn declared(template: &Template) -> Vec<String> {
    template.root["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::SecretsManager::Secret")
        .map(|(id, _)| id.clone())
        .collect()
}

impl LocalSecrets {
    /// Serves `values` (logical id -> secret text) on a free loopback port.
    pub async fn start(values: HashMap<String, String>) -> std::io::Result<Self> {
        let by_id: HashMap<String, (String, String)> = values
            .into_iter()
            .map(|(id, value)| (id.clone(), (arn_of(&id), value)))
            .collect();
        let arns = by_id
            .iter()
            .map(|(id, (arn, _))| (id.clone(), arn.clone()))
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let gate = Gate::default();
        let app = Router::new().fallback(handle).with_state(Served {
            secrets: Arc::new(by_id),
            gate: gate.clone(),
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, arns, gate })
    }

    /// Who may read: from now on each call is checked against the caller's role.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The endpoint URL, as `AWS_ENDPOINT_URL_SECRETS_MANAGER` names it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `logical id -> ARN`, for resolving `!Ref`.
    pub fn arns(&self) -> &HashMap<String, String> {
        &self.arns
    }
}

fn error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

async fn handle(State(served): State<Served>, headers: HeaderMap, body: Bytes) -> Response {
    let secrets = &served.secrets;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "secretsmanager.GetSecretValue" {
        return error(
            "UnknownOperationException",
            &format!("{target} is not served locally"),
        );
    }
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["SecretId"].as_str().map(str::to_string))
        .unwrap_or_default();
    let found = secrets
        .iter()
        .find(|(logical_id, (arn, _))| **arn == id || **logical_id == id);
    // IAM decides before the secret is looked up: a caller denied a secret learns nothing of
    // whether it exists. A name is authorized as the ARN it would have.
    let resource = found.map(|(_, (arn, _))| arn.clone()).unwrap_or_else(|| {
        if id.starts_with("arn:") {
            id.clone()
        } else {
            arn_of(&id)
        }
    });
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Err(refusal) = served.gate.check(
        authorization,
        &[Request::new("secretsmanager:GetSecretValue", resource)],
    ) {
        return error(refusal.kind(), &refusal.to_string());
    }
    let Some((logical_id, (arn, value))) = found else {
        return error(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        );
    };
    (
        [("content-type", "application/x-amz-json-1.1")],
        json!({
            "ARN": arn,
            "Name": logical_id,
            "SecretString": value,
            "VersionId": "00000000-0000-0000-0000-000000000001",
            "VersionStages": ["AWSCURRENT"],
            "CreatedDate": 1.7e9,
        })
        .to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sdk_reads_a_secret_by_arn_and_refuses_an_unknown_one() {
        let secrets = LocalSecrets::start(HashMap::from([("KeySecret".into(), "v4lue".into())]))
            .await
            .unwrap();
        let config = crate::dynamodb::sdk_config(secrets.url()).await;
        let client = aws_sdk_secretsmanager::Client::new(&config);
        let got = client
            .get_secret_value()
            .secret_id(arn_of("KeySecret"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.secret_string(), Some("v4lue"));
        let missing = client.get_secret_value().secret_id("nope").send().await;
        let e = missing.unwrap_err().into_service_error();
        assert!(e.is_resource_not_found_exception(), "{e:?}");
    }
}
