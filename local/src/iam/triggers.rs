//! What Lambda's event-source mappings need of a function's execution role, checked when the
//! local mapping starts, as Lambda checks it when it creates or enables one.
//!
//! - DynamoDB Streams: "dynamodb:DescribeStream, dynamodb:GetRecords,
//!   dynamodb:GetShardIterator, dynamodb:ListStreams" on the stream (Lambda developer guide,
//!   "Execution role permissions" for DynamoDB), and for an SQS on-failure destination
//!   `sqs:SendMessage` on the queue (for SNS, `sns:Publish`).
//! - Amazon MSK: `kafka:DescribeClusterV2` and `kafka:GetBootstrapBrokers` on the cluster and
//!   the VPC actions Lambda needs to reach it ("Configuring Lambda permissions for Amazon MSK
//!   event source mappings", required permissions); with IAM authentication,
//!   `kafka-cluster:Connect` and `DescribeClusterDynamicConfiguration` on the cluster,
//!   `DescribeGroup` and `AlterGroup` on the consumer group, `DescribeTopic` and `ReadData` on
//!   the topics; with SASL/SCRAM, `secretsmanager:GetSecretValue` on the secret; and for a
//!   Kafka on-failure destination `kafka-cluster:WriteData` (with `DescribeTopic`) on its topic
//!   ("Using a Kafka topic as an on-failure destination").

use serde_json::Value;

use super::policy::Request;

/// What Lambda does in the cluster's VPC to reach its brokers (in `AWSLambdaMSKExecutionRole`).
pub const MSK_NETWORK_ACTIONS: [&str; 6] = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
];

/// The cluster part of an MSK ARN (`<name>/<uuid>`), for its topic and group ARNs.
fn cluster_path(cluster_arn: &str) -> Option<(&str, &str)> {
    let (prefix, path) = cluster_arn.split_once(":cluster/")?;
    Some((prefix, path))
}

/// What a `DynamoDB` event (resolved properties) needs of the role.
pub fn stream_mapping(properties: &Value) -> Vec<Request> {
    let stream = properties["Stream"].as_str().unwrap_or_default();
    let mut needs: Vec<Request> = [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ]
    .into_iter()
    .map(|a| Request::new(a, stream))
    .collect();
    needs.extend(destination(properties));
    needs
}

/// What an `MSK` event (resolved properties) needs of the role.
pub fn msk_mapping(properties: &Value) -> Vec<Request> {
    let cluster = properties["Stream"].as_str().unwrap_or_default();
    let mut needs: Vec<Request> = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"]
        .into_iter()
        .map(|a| Request::new(a, cluster))
        .collect();
    needs.extend(
        MSK_NETWORK_ACTIONS
            .into_iter()
            .map(|a| Request::new(a, "*")),
    );
    let access = properties["SourceAccessConfigurations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut sasl = false;
    for a in &access {
        if let Some(uri) = a["URI"].as_str()
            && a["Type"]
                .as_str()
                .is_some_and(|t| t.starts_with("SASL_SCRAM"))
        {
            sasl = true;
            needs.push(Request::new("secretsmanager:GetSecretValue", uri));
        }
    }
    let Some((prefix, path)) = cluster_path(cluster) else {
        return needs;
    };
    let topic = |t: &str| format!("{prefix}:topic/{path}/{t}");
    if !sasl {
        // IAM access control: the cluster checks the role's kafka-cluster actions.
        let group = properties["ConsumerGroupId"].as_str().unwrap_or_default();
        needs.push(Request::new("kafka-cluster:Connect", cluster));
        needs.push(Request::new(
            "kafka-cluster:DescribeClusterDynamicConfiguration",
            cluster,
        ));
        for action in ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"] {
            needs.push(Request::new(
                action,
                format!("{prefix}:group/{path}/{group}"),
            ));
        }
        for t in properties["Topics"].as_array().into_iter().flatten() {
            let t = t.as_str().unwrap_or_default();
            for action in ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"] {
                needs.push(Request::new(action, topic(t)));
            }
        }
        if let Some(t) = properties["DestinationConfig"]["OnFailure"]["Destination"]
            .as_str()
            .and_then(|d| d.strip_prefix("kafka://"))
        {
            for action in ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"] {
                needs.push(Request::new(action, topic(t)));
            }
        }
    }
    needs.extend(destination(properties));
    needs
}

/// An SQS or SNS on-failure destination's send.
fn destination(properties: &Value) -> Option<Request> {
    let arn = properties["DestinationConfig"]["OnFailure"]["Destination"].as_str()?;
    if arn.starts_with("arn:aws:sqs:") {
        Some(Request::new("sqs:SendMessage", arn))
    } else if arn.starts_with("arn:aws:sns:") {
        Some(Request::new("sns:Publish", arn))
    } else {
        None
    }
}

/// What Lambda checks of a function's `DeadLetterQueue` (where asynchronous invocations that
/// failed their retries go): that its role may send there. Lambda refuses the configuration
/// otherwise ("The provided execution role does not have permissions to call SendMessage on
/// SQS").
pub fn dead_letter_queue(dead_letter: &Value) -> Option<Request> {
    let arn = dead_letter["TargetArn"].as_str()?;
    match dead_letter["Type"].as_str()? {
        "SQS" => Some(Request::new("sqs:SendMessage", arn)),
        "SNS" => Some(Request::new("sns:Publish", arn)),
        _ => None,
    }
}

/// How Lambda words a mapping it cannot run for want of a permission.
pub fn disabled_message(kind: &str, missing: &str) -> String {
    match kind {
        "SNS" => format!(
            "The provided execution role does not have permissions to call SendMessage on SQS (its DeadLetterQueue): {missing}"
        ),
        "DynamoDB" => format!(
            "PROBLEM: Cannot access stream or its on-failure destination. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM, and send to the destination: {missing}"
        ),
        _ => format!(
            "PROBLEM: Lambda is not authorized to perform an action the event source mapping needs. Please check the execution role's permissions: {missing}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLUSTER: &str = "arn:aws:kafka:us-east-1:000000000000:cluster/todo-local/abc-1";

    #[test]
    fn a_dead_letter_queue_needs_its_send() {
        let queue = "arn:aws:sqs:us-east-1:000000000000:Q";
        assert_eq!(
            dead_letter_queue(&json!({"Type": "SQS", "TargetArn": queue})),
            Some(Request::new("sqs:SendMessage", queue))
        );
        assert_eq!(dead_letter_queue(&Value::Null), None);
    }

    #[test]
    fn an_iam_msk_mapping_needs_its_group_topics_and_dead_letter_topic() {
        let needs = msk_mapping(&json!({
            "Stream": CLUSTER, "Topics": ["todo.reminders"], "ConsumerGroupId": "g",
            "DestinationConfig": {"OnFailure": {"Destination": "kafka://todo.dead.letter"}}}));
        let has = |a: &str, r: &str| needs.iter().any(|n| n.action == a && n.resource == r);
        assert!(has("kafka-cluster:Connect", CLUSTER));
        assert!(has(
            "kafka-cluster:AlterGroup",
            "arn:aws:kafka:us-east-1:000000000000:group/todo-local/abc-1/g"
        ));
        assert!(has(
            "kafka-cluster:ReadData",
            "arn:aws:kafka:us-east-1:000000000000:topic/todo-local/abc-1/todo.reminders"
        ));
        assert!(has(
            "kafka-cluster:WriteData",
            "arn:aws:kafka:us-east-1:000000000000:topic/todo-local/abc-1/todo.dead.letter"
        ));
        let scram = msk_mapping(&json!({"Stream": CLUSTER, "Topics": ["t"],
            "SourceAccessConfigurations": [{"Type": "SASL_SCRAM_512_AUTH", "URI": "arn:s"}]}));
        assert!(
            scram
                .iter()
                .any(|n| n.action == "secretsmanager:GetSecretValue")
        );
        assert!(!scram.iter().any(|n| n.action.starts_with("kafka-cluster:")));
    }

    #[test]
    fn a_stream_mapping_needs_its_stream_and_failure_queue() {
        let needs = stream_mapping(&json!({"Stream": "arn:st",
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:Q"}}}));
        assert_eq!(needs.len(), 5);
        assert_eq!(
            needs[4],
            Request::new("sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:Q")
        );
    }
}
