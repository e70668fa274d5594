//! Issue #8: every function in a VPC has a route to everything it calls.
//!
//! A function attached to a VPC reaches nothing outside it without a route: no internet (a
//! webhook), no AWS service endpoint (DynamoDB, SQS, Secrets Manager) unless the VPC has a NAT
//! gateway or an interface/gateway endpoint for it (AWS Lambda developer guide, "Giving Lambda
//! functions access to resources in an Amazon VPC" and "Internet and service access for
//! VPC-connected functions"). The template cannot see the VPC it is deployed into, so the rule
//! is: a function in a VPC may only call what lives in that VPC (the Kafka brokers), unless the
//! template itself creates the endpoint for the service.

use serde_json::Value;
use todo_local::template::Template;

/// What a function calls, read from what the template gives it: its environment, the actions
/// its policies allow, and, for the function behind a custom resource, S3: CloudFormation
/// takes the answer as a PUT to a pre-signed S3 URL ("Custom resource response objects").
fn calls(template: &Value, id: &str, function: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let serves_a_custom_resource = template["Resources"]
        .as_object()
        .into_iter()
        .flat_map(|r| r.values())
        .any(|r| {
            r["Type"]
                .as_str()
                .is_some_and(|t| t.starts_with("Custom::"))
                && r["Properties"]["ServiceToken"]["!GetAtt"] == format!("{id}.Arn")
        });
    if serves_a_custom_resource {
        out.push("s3".to_string());
    }
    if let Some(vars) = function["Properties"]["Environment"]["Variables"].as_object() {
        for name in vars.keys() {
            if name.ends_with("_TABLE") {
                out.push("dynamodb".to_string());
            }
            if name == "WEBHOOK_URL" {
                out.push("internet".to_string());
            }
        }
    }
    // The on-failure destination of an event-source mapping is written by Lambda itself with
    // the function's role, not by the function's code: its permission is no call of the function.
    let destinations: Vec<String> = function["Properties"]["Events"]
        .as_object()
        .into_iter()
        .flat_map(|events| events.values())
        .filter_map(|e| {
            let d = &e["Properties"]["DestinationConfig"]["OnFailure"]["Destination"];
            d["!GetAtt"]
                .as_str()
                .map(|a| a.split('.').next().unwrap_or(a).to_string())
        })
        .collect();
    let policies: String = function["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .filter(|p| !destinations.iter().any(|d| p.contains(d.as_str())))
        .collect();
    for (needle, service) in [
        ("\"dynamodb:", "dynamodb"),
        ("DynamoDB", "dynamodb"),
        ("\"sqs:", "sqs"),
        ("SQS", "sqs"),
        ("\"secretsmanager:", "secretsmanager"),
        ("\"s3:", "s3"),
        ("\"sns:", "sns"),
    ] {
        if policies.contains(needle) {
            out.push(service.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The services the template gives its VPC a route to (VPC endpoints it creates).
fn routed(template: &Value) -> Vec<String> {
    let Some(resources) = template["Resources"].as_object() else {
        return Vec::new();
    };
    resources
        .values()
        .filter(|r| r["Type"] == "AWS::EC2::VPCEndpoint")
        .filter_map(|r| {
            let name = r["Properties"]["ServiceName"].to_string();
            ["dynamodb", "sqs", "secretsmanager", "s3", "sns"]
                .into_iter()
                .find(|s| name.contains(s))
                .map(str::to_string)
        })
        .collect()
}

fn unroutable(template: &Value) -> Vec<(String, String)> {
    let routed = routed(template);
    let mut found = Vec::new();
    let Some(resources) = template["Resources"].as_object() else {
        return found;
    };
    for (id, r) in resources {
        if r["Type"] != "AWS::Serverless::Function" || r["Properties"]["VpcConfig"].is_null() {
            continue;
        }
        for service in calls(template, id, r) {
            if !routed.contains(&service) {
                found.push((id.clone(), service));
            }
        }
    }
    found
}

#[test]
fn every_function_in_a_vpc_can_reach_what_it_calls() {
    let template = Template::workspace().expect("template.yaml");
    assert_eq!(unroutable(&template.root), Vec::<(String, String)>::new());
    let in_vpc: Vec<&String> = template.root["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| !r["Properties"]["VpcConfig"].is_null())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        in_vpc,
        ["PublisherFunction", "TopicsFunction"],
        "only the Kafka clients need the VPC"
    );
}

#[test]
fn the_check_catches_a_custom_resource_that_cannot_answer() {
    let mut template = Template::workspace().expect("template.yaml").root;
    assert_eq!(unroutable(&template), Vec::<(String, String)>::new());
    template["Resources"]
        .as_object_mut()
        .unwrap()
        .remove("S3GatewayEndpoint");
    assert_eq!(
        unroutable(&template),
        [("TopicsFunction".to_string(), "s3".to_string())]
    );
}

#[test]
fn the_check_catches_a_consumer_put_back_into_the_vpc() {
    let mut template = Template::workspace().expect("template.yaml").root;
    let vpc = template["Resources"]["PublisherFunction"]["Properties"]["VpcConfig"].clone();
    template["Resources"]["WebhookChannelFunction"]["Properties"]["VpcConfig"] = vpc;
    let found = unroutable(&template);
    assert!(
        found.contains(&("WebhookChannelFunction".to_string(), "dynamodb".to_string())),
        "{found:?}"
    );
    assert!(found.contains(&("WebhookChannelFunction".to_string(), "internet".to_string())));
}
