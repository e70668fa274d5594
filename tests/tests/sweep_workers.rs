//! Issue #21: a burst of reminders is handed to the sweep's workers through Lambda's
//! asynchronous Invoke, under the roles `template.yaml` gives, and a sweep that cannot hand it
//! on sweeps it itself: every reminder reaches the inbox once either way.
//!
//! The local cloud serves Lambda's Invoke API (`todo_local::lambda_api`) and checks
//! `lambda:InvokeFunction` against the sweep's role; the template's `SweepAloneUpTo` is
//! lowered here so a dozen reminders make a burst.

use std::collections::HashSet;

use serde_json::{Value, json};
use todo_e2e::{Api, DataDir, in_seconds, refused, start_with};
use todo_local::cloud::LocalCloud;
use todo_local::template::Template;

const REMINDERS: usize = 12;
const WORKER: &str = "SweepWorkerFunction";
const WORKER_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:SweepWorkerFunction";

/// The workspace template, with a sweep that records at most 5 reminders itself.
fn bursty() -> Template {
    let mut template = Template::workspace().unwrap();
    template.root["Parameters"]["SweepAloneUpTo"]["Default"] = json!(5);
    template
}

/// Twelve tasks of alice's with a reminder each, all due at one instant a few seconds ahead.
async fn a_burst(cloud: &LocalCloud) -> Api {
    let alice = Api::new(cloud, "alice");
    let at = in_seconds(4);
    for i in 0..REMINDERS {
        alice
            .create(json!({"title": format!("Burst {i}"), "reminders": [{"at": at}]}))
            .await;
    }
    alice
}

/// Each reminder reaches the inbox, and once.
async fn all_in_the_inbox_once(alice: &Api) {
    let items = alice.items_once("/notifications?limit=50", REMINDERS).await;
    let tasks: HashSet<&str> = items
        .iter()
        .filter_map(|n| n["task_id"].as_str().or(n["task"]["id"].as_str()))
        .collect();
    assert_eq!(items.len(), REMINDERS, "{items:#?}");
    assert_eq!(tasks.len(), REMINDERS, "one each: {items:#?}");
}

#[tokio::test]
async fn a_burst_goes_to_the_sweep_workers_through_lambdas_invoke() {
    let data = DataDir::new("sweep-workers");
    let cloud = start_with(&bursty(), &data)
        .await
        .expect("the cloud starts");
    let alice = a_burst(&cloud).await;
    all_in_the_inbox_once(&alice).await;
    assert!(
        cloud.hosts[WORKER].invocations() > 0,
        "the workers recorded the burst"
    );
    let ledger = cloud.iam.ledger();
    assert!(
        ledger.denied.is_empty(),
        "nothing refused: {:?}",
        ledger.denied
    );
    let invoked = ledger.used["SweepRemindersFunction"]
        .keys()
        .any(|&statement| {
            let role = ledger
                .roles
                .iter()
                .find(|r| r.function == "SweepRemindersFunction")
                .unwrap();
            serde_json::to_string(&role.statements[statement])
                .unwrap()
                .contains("lambda:InvokeFunction")
        });
    assert!(
        invoked,
        "the sweep's Invoke was allowed by its LambdaInvokePolicy"
    );
}

#[tokio::test]
async fn without_its_invoke_grant_the_sweep_is_refused_and_records_the_burst_itself() {
    let mut template = bursty();
    let policies =
        &mut template.root["Resources"]["SweepRemindersFunction"]["Properties"]["Policies"];
    policies
        .as_array_mut()
        .unwrap()
        .retain(|p| p.get("LambdaInvokePolicy").is_none());
    let data = DataDir::new("sweep-workers-refused");
    data.refused_on_purpose();
    let cloud = start_with(&template, &data)
        .await
        .expect("the cloud starts");
    let alice = a_burst(&cloud).await;
    refused(
        &cloud,
        "SweepRemindersFunction",
        "lambda:InvokeFunction",
        WORKER_ARN,
    )
    .await;
    all_in_the_inbox_once(&alice).await;
    assert_eq!(
        cloud.hosts[WORKER].invocations(),
        0,
        "no worker ran: the sweep swept the parts itself"
    );
}

/// A Lambda client signing as `function` does, against the local cloud's Invoke API.
async fn lambda_as(cloud: &LocalCloud, function: &str) -> aws_sdk_lambda::Client {
    let c = cloud.iam.credentials(function);
    let credentials = aws_sdk_lambda::config::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "the function's role",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(credentials)
        .endpoint_url(cloud.lambda.url())
        .load()
        .await;
    aws_sdk_lambda::Client::new(&config)
}

#[tokio::test]
async fn the_invoke_api_answers_as_lambda_does_and_a_worker_refuses_a_bad_part() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::InvocationType;

    let data = DataDir::new("sweep-workers-api");
    data.refused_on_purpose();
    let cloud = start_with(&Template::workspace().unwrap(), &data)
        .await
        .expect("the cloud starts");
    let sweep = lambda_as(&cloud, "SweepRemindersFunction").await;
    let invoke = |kind: InvocationType, function: &str, payload: Vec<u8>| {
        sweep
            .invoke()
            .function_name(function)
            .invocation_type(kind)
            .payload(Blob::new(payload))
            .send()
    };

    // A part naming a shard the index does not have: the worker's invocation fails with the
    // reason (synchronously here, to read it; the sweep never sends one).
    let bad =
        br#"{"shards":[200],"parts":1,"now":"2026-01-01T09:00:00Z","until_ms":4102444800000}"#;
    let refused_with = |out: aws_sdk_lambda::operation::invoke::InvokeOutput| {
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.function_error(), Some("Unhandled"));
        String::from_utf8(out.payload().unwrap().as_ref().to_vec()).unwrap()
    };
    let error = refused_with(
        invoke(InvocationType::RequestResponse, WORKER, bad.to_vec())
            .await
            .unwrap(),
    );
    assert!(error.contains("shard 200"), "{error}");
    // A part "at" an instant past the worker's clock would send reminders before their time.
    let future =
        br#"{"shards":[1],"parts":1,"now":"9999-12-31T23:59:59Z","until_ms":4102444800000}"#;
    let error = refused_with(
        invoke(InvocationType::RequestResponse, WORKER, future.to_vec())
            .await
            .unwrap(),
    );
    assert!(error.contains("later than the worker's clock"), "{error}");
    // Not JSON at all: refused before any function runs.
    let not_json = invoke(InvocationType::Event, WORKER, b"{not json".to_vec()).await;
    let e = not_json.unwrap_err().into_service_error();
    assert!(e.is_invalid_request_content_exception(), "{e:?}");
    // Past the 1 MB of an asynchronous invocation.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1024 * 1024));
    let too_big = invoke(InvocationType::Event, WORKER, big.into_bytes()).await;
    let e = too_big.unwrap_err().into_service_error();
    assert!(e.is_request_too_large_exception(), "{e:?}");
    // Past the 6 MB of a synchronous one: Lambda's error, not the HTTP server's (an outside
    // tester's find).
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(7 * 1024 * 1024));
    let too_big = invoke(InvocationType::RequestResponse, WORKER, huge.into_bytes()).await;
    let e = too_big.unwrap_err().into_service_error();
    assert!(e.is_request_too_large_exception(), "{e:?}");
    // One version of each function runs here: another qualifier is no function.
    let versioned = invoke(
        InvocationType::Event,
        &format!("{WORKER}:7"),
        b"{}".to_vec(),
    )
    .await;
    let e = versioned.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    // Another account's function of the same name is not the worker the role names.
    let elsewhere = invoke(
        InvocationType::Event,
        "arn:aws:lambda:us-east-1:111111111111:function:SweepWorkerFunction",
        b"{}".to_vec(),
    )
    .await;
    let text = format!(
        "{}",
        aws_sdk_lambda::error::DisplayErrorContext(&elsewhere.unwrap_err())
    );
    assert!(text.contains("AccessDenied"), "{text}");
    // A good part, queued: 202 at once.
    let good =
        br#"{"shards":[1,2],"parts":2,"now":"2026-01-01T09:00:00Z","until_ms":4102444800000}"#;
    let queued = invoke(InvocationType::Event, WORKER, good.to_vec())
        .await
        .unwrap();
    assert_eq!(queued.status_code(), 202);
    // The sweep's role names only its workers: any other function is denied.
    let other = invoke(InvocationType::Event, "CreateTaskFunction", b"{}".to_vec()).await;
    let e = other.unwrap_err();
    let text = format!("{}", aws_sdk_lambda::error::DisplayErrorContext(&e));
    assert!(text.contains("AccessDenied"), "{text}");
    // Unsigned: refused as AWS refuses it.
    let unsigned = reqwest::Client::new()
        .post(format!(
            "{}/2015-03-31/functions/{WORKER}/invocations",
            cloud.lambda.url()
        ))
        .header("x-amz-invocation-type", "Event")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    let body: Value = unsigned.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");
}
