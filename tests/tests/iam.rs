//! AWS's IAM rules, enforced by the local cloud from `template.yaml`: each function signs its
//! requests with credentials of its own and every local AWS endpoint evaluates them against
//! the function's role as SAM makes it. A function whose grant is taken away meets locally the
//! refusal it would meet in AWS, one test per kind of resource (a table, an index, a secret,
//! an SES identity, a WebSocket connection, and what an MSK trigger needs); unknown
//! credentials and unsigned calls are refused as AWS refuses them; and the e-mail channel,
//! whose missing grants reached main once, parks and drains under enforcement.

use std::time::Duration;

use aws_sdk_dynamodb::config::Credentials;
use serde_json::{Value, json};
use todo_e2e::socket::{Socket, Token};
use todo_e2e::{Api, DataDir, eventually, in_seconds, refused, start, start_with};
use todo_local::cloud::LocalCloud;
use todo_local::template::Template;

/// The workspace template with `function`'s `Policies` replaced by `policies` (written as in
/// the template, intrinsic functions and all).
fn with_policies(function: &str, policies: Value) -> Template {
    let mut template = Template::workspace().unwrap();
    template.root["Resources"][function]["Properties"]["Policies"] = policies;
    template
}

/// The workspace template with `action` taken out of every statement of `function`'s
/// `Policies` (a statement left with no action goes).
fn without_action(function: &str, action: &str) -> Template {
    let mut template = Template::workspace().unwrap();
    let policies = &mut template.root["Resources"][function]["Properties"]["Policies"];
    for policy in policies.as_array_mut().unwrap() {
        let Some(statements) = policy.get_mut("Statement").and_then(Value::as_array_mut) else {
            continue;
        };
        for s in statements.iter_mut() {
            match &mut s["Action"] {
                Value::Array(actions) => actions.retain(|a| a != action),
                Value::String(a) if a == action => s["Action"] = json!([]),
                _ => {}
            }
        }
        statements.retain(|s| s["Action"] != json!([]));
    }
    template
}

/// Starts the cloud of `template` for a test whose refusals are the point.
async fn refused_cloud(template: &Template, name: &str) -> (LocalCloud, DataDir) {
    let data = DataDir::new(name);
    data.refused_on_purpose();
    let cloud = start_with(template, &data).await.expect("the cloud starts");
    (cloud, data)
}

const TASKS: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/TasksTable";

#[tokio::test]
async fn a_table_write_without_its_grant_is_refused() {
    let (cloud, _data) = refused_cloud(
        &without_action("CreateTaskFunction", "dynamodb:PutItem"),
        "iam-table",
    )
    .await;
    let alice = Api::new(&cloud, "alice");
    let created = alice
        .call("POST", "/tasks", Some(json!({"title": "Denied"})), None)
        .await;
    assert!(created.status >= 500, "{} {}", created.status, created.body);
    assert_ne!(
        created.status, 502,
        "a problem, not a crash: {}",
        created.body
    );
    refused(&cloud, "CreateTaskFunction", "dynamodb:PutItem", TASKS).await;
}

#[tokio::test]
async fn a_query_on_an_index_needs_the_index_arn() {
    // The table's ARN alone does not cover its indexes (`table/T/index/I` is another resource).
    let (cloud, _data) = refused_cloud(
        &with_policies(
            "ListTasksFunction",
            json!([
                {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"!Ref": "CursorSigningKeySecret"}}},
                {"Statement": [{"Effect": "Allow", "Action": ["dynamodb:Query"],
                    "Resource": [{"!GetAtt": "TasksTable.Arn"}]}]},
            ]),
        ),
        "iam-index",
    )
    .await;
    let alice = Api::new(&cloud, "alice");
    assert_eq!(
        alice.get("/tasks").await.status,
        200,
        "the table is granted"
    );
    let by_due = alice.get("/tasks?sort=due").await;
    assert!(by_due.status >= 500, "{} {}", by_due.status, by_due.body);
    refused(
        &cloud,
        "ListTasksFunction",
        "dynamodb:Query",
        &format!("{TASKS}/index/by-due"),
    )
    .await;
}

#[tokio::test]
async fn a_secret_without_its_grant_is_refused() {
    let (cloud, _data) = refused_cloud(
        &with_policies(
            "ListTasksFunction",
            json!([{"Statement": [{"Effect": "Allow", "Action": ["dynamodb:Query"],
                "Resource": [{"!GetAtt": "TasksTable.Arn"}, {"!Sub": "${TasksTable.Arn}/index/*"}]}]}]),
        ),
        "iam-secret",
    )
    .await;
    let alice = Api::new(&cloud, "alice");
    // The cursor signing key is read only when a page needs a cursor: a single page never
    // asks for the secret, and a page with a next one is refused it.
    let listed = alice.get("/tasks").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    alice.create(json!({"title": "One"})).await;
    alice.create(json!({"title": "Two"})).await;
    let listed = alice.get("/tasks?limit=1").await;
    assert!(listed.status >= 500, "{} {}", listed.status, listed.body);
    refused(
        &cloud,
        "ListTasksFunction",
        "secretsmanager:GetSecretValue",
        &todo_local::secrets::arn_of("CursorSigningKeySecret"),
    )
    .await;
}

#[tokio::test]
async fn sending_e_mail_without_the_identity_grant_is_refused() {
    let (cloud, _data) = refused_cloud(
        &without_action("EmailChannelFunction", "ses:SendEmail"),
        "iam-ses",
    )
    .await;
    let alice = Api::new(&cloud, "alice");
    let on = json!({"email": {"enabled": true, "address": "alice@example.com"}});
    assert_eq!(
        alice
            .call("PUT", "/settings/notifications", Some(on), None)
            .await
            .status,
        200
    );
    alice
        .create(json!({"title": "Unsent", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    refused(
        &cloud,
        "EmailChannelFunction",
        "ses:SendEmail",
        "arn:aws:ses:us-east-1:000000000000:identity/todo.local",
    )
    .await;
    assert!(cloud.ses.sent().is_empty());
}

#[tokio::test]
async fn posting_to_a_connection_without_manage_connections_is_refused() {
    let (cloud, _data) = refused_cloud(
        &without_action("RealtimeChannelFunction", "execute-api:ManageConnections"),
        "iam-connection",
    )
    .await;
    let url = cloud.websocket_url.clone().unwrap();
    let token = cloud.auth.token("alice", 1);
    let mut socket = Socket::connect(&url, Token::Header(&token)).await.unwrap();
    Api::new(&cloud, "alice")
        .create(json!({"title": "Not pushed"}))
        .await;
    eventually("the realtime channel refused", || async {
        cloud
            .iam
            .ledger()
            .denied
            .iter()
            .any(|d| {
                d.function == "RealtimeChannelFunction"
                    && d.action == "execute-api:ManageConnections"
                    && d.resource.starts_with(
                        "arn:aws:execute-api:us-east-1:000000000000:local/live/POST/@connections/",
                    )
            })
            .then_some(())
    })
    .await;
    assert!(
        socket.next_json(Duration::from_millis(500)).await.is_none(),
        "nothing reached the socket"
    );
}

#[tokio::test]
async fn an_msk_trigger_whose_role_cannot_read_its_topic_is_disabled() {
    let (cloud, _data) = refused_cloud(
        &without_action("AuditConsumerFunction", "kafka-cluster:ReadData"),
        "iam-trigger",
    )
    .await;
    let disabled = cloud
        .disabled_mappings
        .iter()
        .find(|m| m.starts_with("AuditConsumerFunction TaskEvents"))
        .expect("the audit log's mapping is disabled");
    assert!(
        disabled.contains("kafka-cluster:ReadData")
            && disabled.contains(
                "topic/todo-local/00000000-0000-0000-0000-000000000000-1/todo.task.events"
            ),
        "{disabled}"
    );
    assert_eq!(
        cloud.disabled_mappings.len(),
        1,
        "{:?}",
        cloud.disabled_mappings
    );
}

#[tokio::test]
async fn unknown_and_missing_credentials_are_refused_as_aws_refuses_them() {
    let data = DataDir::new("iam-credentials");
    let cloud = start(&data).await;
    let config = todo_local::dynamodb::sdk_config(&cloud.dynamo.endpoint()).await;
    let stranger = aws_sdk_dynamodb::config::Builder::from(&config)
        .credentials_provider(Credentials::new("AKIASTRANGER", "x", None, None, "test"))
        .build();
    let e = aws_sdk_dynamodb::Client::from_conf(stranger)
        .get_item()
        .table_name("TasksTable")
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert_eq!(
        e.meta().code(),
        Some("UnrecognizedClientException"),
        "{e:?}"
    );
    let unsigned = reqwest::Client::new()
        .post(cloud.dynamo.endpoint())
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .header("content-type", "application/x-amz-json-1.0")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#MissingAuthenticationTokenException"
    );
    // The operator (the tests' own clients, `todo-admin`) is the account's administrator.
    let tables = cloud
        .dynamo
        .client()
        .await
        .list_tables()
        .send()
        .await
        .unwrap();
    assert!(tables.table_names().contains(&"TasksTable".to_string()));
}

#[tokio::test]
async fn a_statement_the_local_cloud_cannot_evaluate_stops_the_start() {
    let data = DataDir::new("iam-condition");
    data.refused_on_purpose();
    let template = with_policies(
        "GetTaskFunction",
        json!([{"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
            "Resource": {"!GetAtt": "TasksTable.Arn"},
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["x"]}}}]}]),
    );
    let Err(e) = start_with(&template, &data).await else {
        panic!("the start goes on with a condition it cannot evaluate");
    };
    let e = e.to_string();
    assert!(
        e.contains("GetTaskFunction Policies[0].Statement[0]") && e.contains("Condition"),
        "{e}"
    );
}

/// The e-mail channel's grants that reached main missing: under enforcement a reminder in
/// quiet hours is parked (PutItem), the drain reads what is due from the parked index (Query)
/// and, when the quiet hours end, sends it and unparks it (DeleteItem). The push channel,
/// which honours quiet hours too, does the same.
#[tokio::test]
async fn e_mail_and_push_park_in_quiet_hours_and_drain_under_enforcement() {
    // Quiet hours end at the next minute of the clock; too near it, wait for the one after.
    if chrono::Utc::now()
        .format("%S")
        .to_string()
        .parse::<u32>()
        .unwrap()
        >= 45
    {
        tokio::time::sleep(Duration::from_secs(16)).await;
    }
    let clock = |minutes: i64| {
        (chrono::Utc::now() + chrono::Duration::minutes(minutes))
            .format("%H:%M")
            .to_string()
    };
    let data = DataDir::new("iam-email-drain");
    let cloud = start(&data).await;
    let alice = Api::new(&cloud, "alice");
    let settings = json!({
        "email": {"enabled": true, "address": "alice@example.com"},
        "quiet_hours": {"start": clock(-60), "end": clock(1), "time_zone": "UTC"},
    });
    let stored = alice
        .call("PUT", "/settings/notifications", Some(settings), None)
        .await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    alice.subscribe_a_device(&cloud).await;
    alice
        .create(json!({"title": "After the quiet", "reminders": [{"at": in_seconds(1)}]}))
        .await;
    for channel in ["email", "push"] {
        let held = eventually(&format!("the {channel} delivery parked"), || async {
            let items = alice.items_once("/notifications", 1).await;
            items[0]["deliveries"]
                .as_array()
                .and_then(|d| d.iter().find(|d| d["channel"] == channel).cloned())
        })
        .await;
        assert_eq!(held["status"], "deferred", "{held}");
    }
    assert!(
        cloud.ses.sent().is_empty(),
        "nothing e-mailed in quiet hours"
    );
    assert!(
        cloud.push.received().is_empty(),
        "nothing pushed in quiet hours"
    );
    // The quiet hours end within 75 s; the drains run every second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(100);
    while cloud.ses.sent().is_empty() || cloud.push.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never drained");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sent = cloud.ses.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["alice@example.com"]);
    let denied = cloud.iam.ledger().denied;
    assert!(denied.is_empty(), "{denied:?}");
    // Both were unparked: neither is sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cloud.ses.sent().len(), 1);
    assert_eq!(cloud.push.received().len(), 1);
}
