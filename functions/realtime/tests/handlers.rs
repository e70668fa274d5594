//! The realtime functions' handlers fed the sample events in `events/ws/` (the files
//! `sam local invoke -e` takes) and real parts: the embedded DynamoDB with the template's
//! connections table, and the local OIDC issuer served over HTTP on 127.0.0.1.

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::encodings::Body;
use serde_json::{Value, json};
use todo_lambda::jwt::Rules;
use todo_local::auth::{AUDIENCE, LocalAuthorizer};
use todo_local::dynamodb::EmbeddedDynamo;
use todo_realtime::authorizer::{OidcKeys, Refusal, authorize};
use todo_realtime::routes::{connect, disconnect, message};
use todo_realtime::store::{DynamoConnections, UserConnections};
use todo_schema::Timestamp;

fn sample<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/ws")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is not the event its route gets: {e}"))
}

fn body(r: &aws_lambda_events::apigw::ApiGatewayProxyResponse) -> Value {
    match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn the_sample_route_events_connect_ping_and_disconnect() {
    let engine = EmbeddedDynamo::start_in_memory().await.unwrap();
    let store = DynamoConnections::new(engine.client().await, "ConnectionsTable");
    let now = Timestamp::now();
    let connected = connect(&store, sample("connect.json"), now).await;
    assert_eq!(connected.status_code, 200);
    let mine = store.of_user("user-alice").await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, "TWegAcC4EowCHnA=");

    let pong = message(sample("ping.json")).await;
    assert_eq!(body(&pong), json!({"type": "pong"}));
    let hint = message(sample("default.json")).await;
    assert_eq!(body(&hint)["type"], "error");

    let gone = disconnect(&store, sample("disconnect.json")).await;
    assert_eq!(gone.status_code, 200);
    assert!(store.of_user("user-alice").await.unwrap().is_empty());
    // A second $disconnect (API Gateway may retry) is no error either.
    assert_eq!(
        disconnect(&store, sample("disconnect.json"))
            .await
            .status_code,
        200
    );

    // Without the authorizer's identity, $connect fails closed and records nothing.
    let mut anonymous: ApiGatewayWebsocketProxyRequest = sample("connect.json");
    anonymous.request_context.authorizer.fields.clear();
    assert_eq!(connect(&store, anonymous, now).await.status_code, 401);
    assert!(store.of_user("user-alice").await.unwrap().is_empty());
}

/// The local issuer, serving discovery and JWKS on 127.0.0.1; its rules.
async fn issuer(name: &str) -> (Arc<LocalAuthorizer>, Rules, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = std::env::temp_dir().join(format!("todo-realtime-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let auth = Arc::new(LocalAuthorizer::load_or_create(&dir, &url).unwrap());
    let server = tokio::spawn(todo_local::auth::serve_issuer(listener, Arc::clone(&auth)));
    let rules = Rules {
        issuer: url,
        audiences: vec![AUDIENCE.to_string()],
    };
    (auth, rules, server)
}

fn with_token(
    header: Option<&str>,
    query: Option<&str>,
) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut event: Value = sample::<Value>("authorize.json");
    event["queryStringParameters"] = match query {
        Some(t) => json!({"token": t}),
        None => json!({}),
    };
    if let Some(h) = header {
        event["headers"]["Authorization"] = json!(h);
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn the_authorizer_admits_the_http_apis_tokens_and_nothing_else() {
    let (auth, rules, server) = issuer("admit").await;
    let keys = OidcKeys::new(&rules.issuer);
    let token = auth.token("user-alice", 1);

    for event in [
        with_token(Some(&format!("Bearer {token}")), None),
        with_token(None, Some(&token)),
    ] {
        let arn = event.method_arn.clone().unwrap();
        let allowed = authorize(&keys, &rules, event).await.expect("admitted");
        let policy = serde_json::to_value(&allowed).unwrap();
        assert_eq!(policy["principalId"], "user-alice");
        assert_eq!(policy["context"]["sub"], "user-alice");
        assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
        assert_eq!(
            policy["policyDocument"]["Statement"][0]["Action"],
            json!(["execute-api:Invoke"])
        );
        assert_eq!(
            policy["policyDocument"]["Statement"][0]["Resource"],
            json!([arn])
        );
    }

    // The sample's made-up token, no token, another audience, a token without a subject.
    let now = Timestamp::now().epoch_seconds();
    let other_aud =
        auth.sign(&json!({"sub": "a", "iss": rules.issuer, "aud": "other", "exp": now + 60}));
    let no_sub = auth.sign(&json!({"iss": rules.issuer, "aud": AUDIENCE, "exp": now + 60}));
    let sub_as = |sub: Value| {
        auth.sign(&json!({"sub": sub, "iss": rules.issuer, "aud": AUDIENCE, "exp": now + 60}))
    };
    let (numeric_sub, boolean_sub) = (sub_as(json!(12345)), sub_as(json!(true)));
    // The issuer's key, but not the algorithm its JWK declares (RS256).
    let rs512 = auth.sign_with(
        jsonwebtoken::Algorithm::RS512,
        &json!({"sub": "user-alice", "iss": rules.issuer, "aud": AUDIENCE, "exp": now + 60}),
    );
    for (why, event) in [
        (
            "sample",
            sample::<ApiGatewayCustomAuthorizerRequestTypeRequest>("authorize.json"),
        ),
        ("none", with_token(None, None)),
        ("empty query token", with_token(None, Some(""))),
        ("other audience", with_token(None, Some(&other_aud))),
        ("no subject", with_token(Some(&no_sub), None)),
        ("numeric subject", with_token(Some(&numeric_sub), None)),
        ("boolean subject", with_token(None, Some(&boolean_sub))),
        ("RS512 with an RS256 key", with_token(None, Some(&rs512))),
        (
            "basic",
            with_token(Some("Basic dXNlcjpwYXNz"), Some(&token)),
        ),
    ] {
        assert_eq!(
            authorize(&keys, &rules, event).await.unwrap_err(),
            Refusal::Unauthorized,
            "{why}"
        );
    }

    // A token of another key (a rotated or forged one) fetches the set again, and is still
    // refused when the issuer does not publish that key.
    let (stranger, _, other_server) = issuer("stranger").await;
    let forged =
        stranger.sign(&json!({"sub": "a", "iss": rules.issuer, "aud": AUDIENCE, "exp": now + 60}));
    assert_eq!(
        authorize(&keys, &rules, with_token(None, Some(&forged)))
            .await
            .unwrap_err(),
        Refusal::Unauthorized
    );
    other_server.abort();

    // The keys fetched before keep working while the issuer is down; an authorizer that never
    // got them answers an error API Gateway turns into 500, not 401.
    server.abort();
    let _ = server.await;
    assert!(
        authorize(&keys, &rules, with_token(None, Some(&token)))
            .await
            .is_ok()
    );
    let cold = OidcKeys::new(&rules.issuer);
    assert!(matches!(
        authorize(&cold, &rules, with_token(None, Some(&token))).await,
        Err(Refusal::KeysUnavailable(_))
    ));
    let diagnostic: lambda_runtime::Diagnostic = Refusal::Unauthorized.into();
    assert_eq!(
        diagnostic.error_message, "Unauthorized",
        "the message API Gateway reads as 401"
    );
}
