//! Each function's execution role as AWS SAM creates it from `template.yaml`: the managed
//! policies SAM attaches by itself, and the function's `Policies` (managed policy names,
//! SAM policy templates and inline statements) after CloudFormation's intrinsic functions
//! (`!If` by the template's conditions, `!Sub`, `!GetAtt`, `!Ref AWS::NoValue`).
//!
//! What SAM attaches, from its translator (`samtranslator/model/sam_resources.py` and
//! `model/eventsources/pull.py`): `AWSLambdaBasicExecutionRole` to every role it makes,
//! `AWSLambdaVPCAccessExecutionRole` with a `VpcConfig`, `AWSXrayWriteOnlyAccess` with active
//! tracing, and per event source `AWSLambdaDynamoDBExecutionRole` (DynamoDB),
//! `AWSLambdaMSKExecutionRole` (MSK), `AWSLambdaSQSQueueExecutionRole` (SQS),
//! `AWSLambdaKinesisExecutionRole` (Kinesis); an `OnFailure` destination with `Type: SQS` or
//! `SNS` gets a send statement, a Kafka destination none. The managed policies' documents are
//! AWS's (AWS Managed Policy Reference); the policy templates' are SAM's
//! (`policy_templates_data/policy_templates.json`). A name the local cloud does not know
//! stops the start: guessing its grants would let the suite pass on permissions AWS does not
//! give.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::policy::{PolicyError, Statement};
use crate::template::{ACCOUNT_ID, REGION, Template};

/// One function's execution role.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Role {
    /// The function's logical id.
    pub function: String,
    pub statements: Vec<Statement>,
}

impl Role {
    /// The principal AWS names in a refusal: the role's session as Lambda assumes it.
    pub fn principal(&self) -> String {
        principal_of(&self.function)
    }
}

/// `arn:aws:sts::<account>:assumed-role/<role>/<function>`, as Lambda's session of a
/// function's role appears in AWS's refusals.
pub fn principal_of(function: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{function}Role/{function}")
}

const LOGS: [&str; 3] = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

/// The document of an AWS managed policy SAM attaches, by name.
fn managed_policy(name: &str) -> Option<Vec<Value>> {
    let with_logs = |actions: &[&str]| {
        let mut all: Vec<&str> = actions.to_vec();
        all.extend(LOGS);
        vec![json!({"Effect": "Allow", "Action": all, "Resource": "*"})]
    };
    Some(match name {
        "AWSLambdaBasicExecutionRole" => with_logs(&[]),
        "AWSLambdaDynamoDBExecutionRole" => with_logs(&[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ]),
        "AWSLambdaMSKExecutionRole" => with_logs(
            &[
                &[
                    "kafka:DescribeCluster",
                    "kafka:DescribeClusterV2",
                    "kafka:GetBootstrapBrokers",
                ][..],
                &super::triggers::MSK_NETWORK_ACTIONS[..],
            ]
            .concat(),
        ),
        "AWSLambdaVPCAccessExecutionRole" => with_logs(&[
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ]),
        "AWSLambdaSQSQueueExecutionRole" => with_logs(&[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ]),
        "AWSLambdaKinesisExecutionRole" => with_logs(&[
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
            "kinesis:ListStreams",
            "kinesis:SubscribeToShard",
        ]),
        "AWSXrayWriteOnlyAccess" => vec![json!({"Effect": "Allow", "Action": [
            "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
            "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"], "Resource": "*"})],
        _ => return None,
    })
}

/// A SAM policy template's statements for its (resolved) parameters.
fn policy_template(name: &str, parameters: &Value) -> Option<Result<Vec<Value>, String>> {
    let parameter = |key: &str| {
        parameters[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{name} needs its {key} parameter"))
    };
    Some(match name {
        "AWSSecretsManagerGetSecretValuePolicy" => parameter("SecretArn").map(|arn| {
            vec![json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arn})]
        }),
        "LambdaInvokePolicy" => parameter("FunctionName").map(|function| {
            vec![json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                "Resource": format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}*")})]
        }),
        "SQSSendMessagePolicy" => parameter("QueueName").map(|queue| {
            vec![json!({"Effect": "Allow", "Action": ["sqs:SendMessage*"],
                "Resource": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}")})]
        }),
        _ => return None,
    })
}

/// The name of a managed policy given as a name or an ARN
/// (`arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`).
fn managed_name(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// Every function's role, with the template's parameters and conditions as `parameters` says.
pub fn roles(
    template: &Template,
    parameters: &HashMap<String, String>,
) -> Result<Vec<Role>, PolicyError> {
    let Some(resources) = template.root["Resources"].as_object() else {
        return Ok(Vec::new());
    };
    let mut roles = Vec::new();
    for (id, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        if let Some(condition) = resource["Condition"].as_str()
            && !template.condition_holds(parameters, condition)
        {
            continue;
        }
        let props = template.resolve(parameters, &resource["Properties"]);
        roles.push(role(id, &props)?);
    }
    Ok(roles)
}

/// The statement SAM adds for a failure destination or dead-letter queue of `kind` (`SQS` or
/// `SNS`) at `target`: the role may send to it.
fn send_to(kind: &Value, target: &Value, origin: String) -> Result<Option<Statement>, PolicyError> {
    let action = match kind.as_str() {
        Some("SQS") => "sqs:SendMessage",
        Some("SNS") => "sns:Publish",
        _ => return Ok(None),
    };
    let resource = target.as_str().unwrap_or_default();
    Statement::parse(
        &json!({"Effect": "Allow", "Action": action, "Resource": resource}),
        origin,
        false,
    )
    .map(Some)
}

/// One function's role from its resolved `Properties`.
pub fn role(function: &str, props: &Value) -> Result<Role, PolicyError> {
    let fail = |origin: &str, reason: String| PolicyError {
        origin: format!("{function} {origin}"),
        reason,
    };
    let mut statements = Vec::new();
    let managed = |name: &str, statements: &mut Vec<Statement>| -> Result<(), PolicyError> {
        let document = managed_policy(name).ok_or_else(|| {
            fail(
                name,
                "a managed policy the local cloud does not know: add its document to local/src/iam/sam.rs".into(),
            )
        })?;
        for (i, s) in document.iter().enumerate() {
            statements.push(Statement::parse(
                s,
                format!("{function} {name}.Statement[{i}]"),
                true,
            )?);
        }
        Ok(())
    };
    if props.get("Role").is_some() {
        return Err(fail(
            "Role",
            "a role of the template's own is not expanded locally; give Policies instead".into(),
        ));
    }
    managed("AWSLambdaBasicExecutionRole", &mut statements)?;
    if props.get("VpcConfig").is_some() {
        managed("AWSLambdaVPCAccessExecutionRole", &mut statements)?;
    }
    if props["Tracing"] == "Active" {
        managed("AWSXrayWriteOnlyAccess", &mut statements)?;
    }
    // An asynchronous invocation's dead-letter queue: SAM lets the role send to it.
    let dead_letter = &props["DeadLetterQueue"];
    if let Some(statement) = send_to(
        &dead_letter["Type"],
        &dead_letter["TargetArn"],
        format!("{function} DeadLetterQueue (SAM-generated)"),
    )? {
        statements.push(statement);
    }
    for (name, event) in props["Events"].as_object().into_iter().flatten() {
        let by_source = match event["Type"].as_str() {
            Some("DynamoDB") => Some("AWSLambdaDynamoDBExecutionRole"),
            Some("MSK") => Some("AWSLambdaMSKExecutionRole"),
            Some("SQS") => Some("AWSLambdaSQSQueueExecutionRole"),
            Some("Kinesis") => Some("AWSLambdaKinesisExecutionRole"),
            _ => None,
        };
        if let Some(policy) = by_source
            && !statements
                .iter()
                .any(|s| s.origin.ends_with(&format!("{policy}.Statement[0]")))
        {
            managed(policy, &mut statements)?;
        }
        let on_failure = &event["Properties"]["DestinationConfig"]["OnFailure"];
        if let Some(statement) = send_to(
            &on_failure["Type"],
            &on_failure["Destination"],
            format!("{function} Events.{name}.DestinationConfig (SAM-generated)"),
        )? {
            statements.push(statement);
        }
    }
    let policies = match &props["Policies"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    for (i, policy) in policies.iter().enumerate() {
        let origin = format!("Policies[{i}]");
        match policy {
            Value::String(name) => managed(managed_name(name), &mut statements)?,
            Value::Object(map) if map.contains_key("Statement") => {
                let list = match &map["Statement"] {
                    Value::Array(items) => items.clone(),
                    one => vec![one.clone()],
                };
                for (j, s) in list.iter().enumerate() {
                    statements.push(Statement::parse(
                        s,
                        format!("{function} {origin}.Statement[{j}]"),
                        false,
                    )?);
                }
            }
            Value::Object(map) if map.len() == 1 => {
                let (name, parameters) = map.iter().next().expect("one entry");
                let list = policy_template(name, parameters)
                    .ok_or_else(|| {
                        fail(
                            &origin,
                            format!("{name} is not a SAM policy template the local cloud knows"),
                        )
                    })?
                    .map_err(|reason| fail(&origin, reason))?;
                for (j, s) in list.iter().enumerate() {
                    statements.push(Statement::parse(
                        s,
                        format!("{function} {origin} ({name}).Statement[{j}]"),
                        false,
                    )?);
                }
            }
            other => return Err(fail(&origin, format!("not a policy: {other}"))),
        }
    }
    Ok(Role {
        function: function.to_string(),
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::policy::{Decision, Request, evaluate};

    fn allowed(role: &Role, action: &str, resource: &str) -> bool {
        matches!(
            evaluate(&role.statements, &Request::new(action, resource)),
            Decision::Allowed(_)
        )
    }

    #[test]
    fn sam_attaches_the_managed_policies_of_each_event_source() {
        let role = role(
            "F",
            &json!({"VpcConfig": {"SubnetIds": []}, "Events": {
                "S": {"Type": "DynamoDB", "Properties": {"Stream": "arn:s",
                    "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": "arn:aws:sqs:us-east-1:000000000000:Q"}}}},
                "K": {"Type": "MSK", "Properties": {"DestinationConfig": {"OnFailure": {"Destination": "kafka://dlt"}}}}}}),
        )
        .unwrap();
        assert!(allowed(&role, "logs:PutLogEvents", "arn:aws:logs:x"));
        assert!(allowed(&role, "dynamodb:GetRecords", "arn:s"));
        assert!(allowed(&role, "kafka:GetBootstrapBrokers", "arn:c"));
        assert!(allowed(&role, "ec2:CreateNetworkInterface", "*"));
        assert!(allowed(
            &role,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:000000000000:Q"
        ));
        assert!(
            !allowed(&role, "kafka-cluster:WriteData", "arn:t"),
            "a Kafka destination gets no generated grant"
        );
        assert!(!allowed(&role, "dynamodb:PutItem", "arn:t"));
    }

    #[test]
    fn policy_templates_expand_as_sam_defines_them() {
        let role = role(
            "F",
            &json!({"Policies": [
                {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:K-local"}},
                {"SQSSendMessagePolicy": {"QueueName": "Q"}},
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            ]}),
        )
        .unwrap();
        assert!(allowed(
            &role,
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:K-local"
        ));
        assert!(!allowed(
            &role,
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:Other-local"
        ));
        assert!(allowed(
            &role,
            "sqs:SendMessageBatch",
            "arn:aws:sqs:us-east-1:000000000000:Q"
        ));
    }

    #[test]
    fn unknown_names_stop_rather_than_guess() {
        for policies in [
            json!(["AmazonDynamoDBFullAccess"]),
            json!([{"DynamoDBCrudPolicy": {"TableName": "T"}}]),
            json!([{"AWSSecretsManagerGetSecretValuePolicy": {}}]),
            json!([{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}]),
        ] {
            let e = role("F", &json!({"Policies": policies})).unwrap_err();
            assert!(e.origin.starts_with("F "), "{e}");
        }
    }

    /// The definitions above are SAM's own: when the SAM CLI is installed (scripts/tools),
    /// its translator's policy templates are compared with them.
    #[test]
    fn policy_templates_agree_with_the_installed_sam_translator() {
        let Some(home) = std::env::var_os("HOME") else {
            return;
        };
        let tools = std::env::var_os("TODO_TOOLS_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(&home).join(".cache/serverless-todo/tools"));
        let Some(file) = std::fs::read_dir(tools.join("lib"))
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|python| {
                python
                    .path()
                    .join("site-packages/samtranslator/policy_templates_data/policy_templates.json")
            })
            .find(|p| p.exists())
        else {
            return;
        };
        let sam: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let secret = &sam["Templates"]["AWSSecretsManagerGetSecretValuePolicy"]["Definition"]["Statement"]
            [0];
        assert_eq!(secret["Action"], json!(["secretsmanager:GetSecretValue"]));
        assert_eq!(secret["Resource"]["Fn::Sub"][0], "${secretArn}");
        let invoke = &sam["Templates"]["LambdaInvokePolicy"]["Definition"]["Statement"][0];
        assert_eq!(invoke["Action"], json!(["lambda:InvokeFunction"]));
        assert_eq!(
            invoke["Resource"]["Fn::Sub"][0],
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*"
        );
        let sqs = &sam["Templates"]["SQSSendMessagePolicy"]["Definition"]["Statement"][0];
        assert_eq!(sqs["Action"], json!(["sqs:SendMessage*"]));
        assert_eq!(
            sqs["Resource"]["Fn::Sub"][0],
            "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}"
        );
    }
}
