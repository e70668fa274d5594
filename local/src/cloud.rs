//! The local cloud: everything `template.yaml` declares, on one machine, with the real function
//! binaries: the tables, the topics, the HTTP API with its authorizer, the stream and MSK
//! event-source mappings and the schedules.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::artifacts::Artifacts;
use crate::auth::LocalAuthorizer;
use crate::connections::Limits;
use crate::dynamodb::{DynamoError, EmbeddedDynamo};
use crate::esm::kafka::KafkaMapping;
use crate::esm::schedule;
use crate::esm::streams::StreamMapping;
use crate::gateway::{self, Gateway, InvocationObserver};
use crate::kafka::{EmbeddedKafka, KafkaError, Storage};
use crate::push_service::LocalPushService;
use crate::runtime::{FunctionHost, FunctionSpec, Invocation, Outcome};
use crate::secrets::LocalSecrets;
use crate::ses::LocalSes;
use crate::template::{FunctionDefinition, Template, TemplateError};
use crate::webhook::WebhookReceiver;

/// How to start the cloud.
#[derive(Clone, Debug)]
pub struct CloudConfig {
    /// Where data lives between runs.
    pub data_dir: PathBuf,
    /// The function code to run: the workspace's binaries or `sam build`'s artifacts.
    pub artifacts: Artifacts,
    /// The HTTP API port (0 picks a free one).
    pub api_port: u16,
    /// Print one line per invocation.
    pub print_invocations: bool,
    /// Run scheduled functions this often instead of the template's rate (local use).
    pub schedule_every: Option<Duration>,
    /// How many execution environments a function without `ReservedConcurrentExecutions` may
    /// run at once (Lambda's own limit is the account's concurrency).
    pub concurrency: usize,
    /// How many client connections each API (HTTP, WebSocket) holds open at once
    /// (`connections::default_max_connections` unless told).
    pub max_connections: usize,
}

/// The default number of execution environments per function.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Why the cloud could not start.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Dynamo(#[from] DynamoError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "function {function}: binary {binary} not found; build the workspace binaries (or `sam build`) first"
    )]
    MissingBinary { function: String, binary: PathBuf },
    #[error("custom resource {0}")]
    CustomResource(#[from] crate::custom_resources::CustomResourceError),
    #[error("local identity provider: {0}")]
    Issuer(#[from] crate::auth::IssuerError),
}

/// A running local cloud; everything stops when it is dropped.
pub struct LocalCloud {
    pub dynamo: EmbeddedDynamo,
    pub kafka: EmbeddedKafka,
    pub webhook: WebhookReceiver,
    /// The e-mail channel's far end (`AWS_ENDPOINT_URL_SESV2`).
    pub ses: LocalSes,
    /// The push channel's far end (a push service and browser in one).
    pub push: LocalPushService,
    pub secrets: LocalSecrets,
    pub auth: Arc<LocalAuthorizer>,
    pub hosts: HashMap<String, Arc<FunctionHost>>,
    pub api_url: String,
    /// The WebSocket API's URL (`ws://127.0.0.1:port/stage`), if the template declares one.
    pub websocket_url: Option<String>,
    /// The gateway, the mappings and the schedules: stopped with the cloud.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LocalCloud {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for host in self.hosts.values() {
            host.stop();
        }
    }
}

/// The secret that signs webhook deliveries locally.
pub const LOCAL_WEBHOOK_SECRET: &str = "todo-local-webhook-secret";

impl LocalCloud {
    /// Starts the engines, the function hosts and the HTTP API.
    pub async fn start(template: &Template, config: &CloudConfig) -> Result<Self, CloudError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let dynamo = EmbeddedDynamo::open(&config.data_dir.join("dynamodb"), template).await?;
        let mut kafka =
            EmbeddedKafka::start(Storage::Folder(config.data_dir.join("kafka"))).await?;
        kafka.supervise();
        let webhook = WebhookReceiver::start().await?;
        let ses = LocalSes::start().await?;
        let push = LocalPushService::start().await?;
        // Bound first: links in reminders (TaskLinkTemplate) point at it.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.api_port)).await?;
        let api_url = format!("http://{}", listener.local_addr()?);
        // The identity provider: on the port it had with this data folder (so tokens minted
        // then stay valid), else next to the API's; any free one if that is taken.
        let issuer_port = LocalAuthorizer::recorded_url(&config.data_dir)
            .and_then(|u| u.rsplit(':').next().and_then(|p| p.parse().ok()))
            .unwrap_or(if config.api_port == 0 {
                0
            } else {
                config.api_port + 1
            });
        let issuer_listener = bind_or_any(issuer_port).await?;
        let issuer_url = format!("http://{}", issuer_listener.local_addr()?);
        let auth = Arc::new(LocalAuthorizer::load_or_create(
            &config.data_dir,
            &issuer_url,
        )?);
        let websocket_api = crate::websocket::WebSocketApi::from_template(template);
        let ws_listener = match websocket_api {
            Some(_) => Some(
                bind_or_any(if config.api_port == 0 {
                    0
                } else {
                    config.api_port + 2
                })
                .await?,
            ),
            None => None,
        };
        let ws_origin = ws_listener
            .as_ref()
            .map(|l| l.local_addr().map(|a| format!("ws://{a}")))
            .transpose()?;
        let management_url = match (&websocket_api, &ws_origin) {
            (Some(api), Some(origin)) => Some(format!(
                "{}/{}",
                origin.replacen("ws://", "http://", 1),
                api.stage
            )),
            _ => None,
        };

        let (mut parameters, secret_values) =
            local_parameters(template, &kafka, &webhook, &config.data_dir)?;
        parameters.insert("TaskLinkTemplate".into(), format!("{api_url}/tasks/{{id}}"));
        parameters.insert("JwtIssuer".into(), issuer_url.clone());
        parameters.insert("JwtAudience".into(), crate::auth::AUDIENCE.into());
        parameters.insert("PushServiceHosts".into(), push.origin().to_string());
        parameters.insert("VapidSubject".into(), "mailto:ops@todo.local".into());
        let secrets = LocalSecrets::start(secret_values).await?;
        parameters.extend(secrets.arns().clone());
        let mut hosts = HashMap::new();
        for f in template.functions() {
            let binary = config.artifacts.binary(&f);
            if !binary.exists() {
                return Err(CloudError::MissingBinary {
                    function: f.logical_id,
                    binary,
                });
            }
            let spec = FunctionSpec {
                name: f.logical_id.clone(),
                binary,
                env: environment(
                    template,
                    &f,
                    &parameters,
                    &dynamo,
                    &secrets,
                    &ses,
                    management_url.as_deref(),
                ),
                timeout: Duration::from_secs(f.timeout_seconds),
                quiet: !config.print_invocations,
            };
            let environments = f.reserved_concurrency.unwrap_or(config.concurrency);
            hosts.insert(
                f.logical_id.clone(),
                FunctionHost::with_environments(spec, environments),
            );
        }

        let print = config.print_invocations;
        let observe: InvocationObserver = Arc::new(move |function, trigger, invocation| {
            if print {
                println!("{}", invocation_line(function, trigger, invocation));
            }
        });
        // The stack's custom resources (the Kafka topics) are applied through their functions
        // before anything consumes or produces, as CloudFormation orders them.
        crate::custom_resources::apply_all(
            template,
            &parameters,
            &hosts,
            &config.data_dir,
            observe.as_ref(),
        )
        .await?;
        let gateway = Arc::new(Gateway {
            routes: template.http_routes(),
            hosts: hosts.clone(),
            auth: Arc::clone(&auth),
            on_invocation: Arc::clone(&observe),
        });
        let mut tasks = vec![
            tokio::spawn(gateway::serve(
                listener,
                gateway,
                Limits::new(config.max_connections),
            )),
            tokio::spawn(crate::auth::serve_issuer(
                issuer_listener,
                Arc::clone(&auth),
            )),
        ];
        let mut websocket_url = None;
        if let (Some(api), Some(listener), Some(origin)) = (websocket_api, ws_listener, ws_origin) {
            let server = Arc::new(crate::websocket::WebSocketServer::new(
                api,
                hosts.clone(),
                Arc::clone(&observe),
                origin,
            ));
            websocket_url = Some(server.url());
            tasks.push(tokio::spawn(crate::websocket::serve(
                listener,
                server,
                Limits::new(config.max_connections),
            )));
        }
        tasks.extend(start_mappings(template, config, &hosts, &dynamo, &kafka, &observe).await?);
        Ok(Self {
            dynamo,
            kafka,
            webhook,
            ses,
            push,
            secrets,
            auth,
            hosts,
            api_url,
            websocket_url,
            tasks,
        })
    }
}

/// A listener on `port` of 127.0.0.1, or on any free port when that one is taken.
async fn bind_or_any(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => Ok(l),
        Err(_) if port != 0 => tokio::net::TcpListener::bind(("127.0.0.1", 0)).await,
        Err(e) => Err(e),
    }
}

/// Starts every event-source mapping and schedule the template declares.
async fn start_mappings(
    template: &Template,
    config: &CloudConfig,
    hosts: &HashMap<String, Arc<FunctionHost>>,
    dynamo: &EmbeddedDynamo,
    kafka: &EmbeddedKafka,
    observe: &InvocationObserver,
) -> Result<Vec<tokio::task::JoinHandle<()>>, CloudError> {
    const IDLE: Duration = Duration::from_millis(100);
    let mut tasks = Vec::new();
    for f in template.functions() {
        let Some(host) = hosts.get(&f.logical_id) else {
            continue;
        };
        for (_, event) in &f.events {
            if let Some(mut m) =
                StreamMapping::from_event(&f, event, Arc::clone(host), &config.data_dir)
            {
                let db = dynamo.database().clone();
                let observe = Arc::clone(observe);
                tasks.push(tokio::spawn(async move {
                    loop {
                        if m.poll(&db, observe.as_ref()).await == 0 {
                            tokio::time::sleep(IDLE).await;
                        }
                    }
                }));
            } else if let Some(m) =
                KafkaMapping::from_event(&f, event, Arc::clone(host), &config.data_dir)
            {
                let client = Arc::new(kafka.client().await?);
                m.pin_start(&client).await;
                tasks.push(tokio::spawn(m.run(client, Arc::clone(observe))));
            } else if let Some(rate) = schedule::rate_of(event) {
                let every = config.schedule_every.unwrap_or(rate);
                tasks.push(tokio::spawn(schedule::run(
                    event.clone(),
                    Arc::clone(host),
                    every,
                    Arc::clone(observe),
                )));
            }
        }
    }
    Ok(tasks)
}

/// One line per invocation: time, function, trigger, duration (and init on a cold start), outcome.
pub fn invocation_line(function: &str, trigger: &str, i: &Invocation) -> String {
    let init = i
        .init
        .map(|d| format!(" (init {} ms)", d.as_millis()))
        .unwrap_or_default();
    let outcome = match &i.outcome {
        Outcome::Ok(_) => "ok".to_string(),
        Outcome::FunctionError(e) => format!("error: {}", e.chars().take(120).collect::<String>()),
        Outcome::Crashed(e) => format!("crashed: {e}"),
        Outcome::TimedOut => "timed out".to_string(),
        Outcome::Throttled => "throttled (every environment busy)".to_string(),
    };
    let now = chrono::Utc::now().format("%H:%M:%S%.3f");
    let function = format!("{function}#{}", i.environment);
    format!(
        "{now}  {function:<33} {trigger:<32} {:>6} ms{init}  {outcome}",
        i.duration.as_millis()
    )
}

/// Names to values: the template's parameters and references, or the secrets' values.
type Names = HashMap<String, String>;

/// What the template's parameters and references resolve to locally, and the values of the
/// secrets it creates (by logical id).
fn local_parameters(
    template: &Template,
    kafka: &EmbeddedKafka,
    webhook: &WebhookReceiver,
    data_dir: &std::path::Path,
) -> Result<(Names, Names), CloudError> {
    let cursor_key_path = data_dir.join("cursor-signing.key");
    let cursor_key = match std::fs::read_to_string(&cursor_key_path) {
        Ok(k) if k.trim().len() >= 32 => k.trim().to_string(),
        _ => {
            let k = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            std::fs::write(&cursor_key_path, &k)?;
            k
        }
    };
    let mut p = HashMap::new();
    for table in template.tables() {
        p.insert(table.logical_id.clone(), table.logical_id.clone());
    }
    p.insert("KafkaBootstrapServers".into(), kafka.bootstrap());
    p.insert("KafkaSecurityProtocol".into(), "PLAINTEXT".into());
    // One broker, no VPC.
    p.insert("KafkaReplicationFactor".into(), "1".into());
    p.insert("CreateS3Endpoint".into(), "false".into());
    p.insert("WebhookUrl".into(), webhook.url().to_string());
    // Users' webhooks may name the same receiver (any path on its origin), though it is not
    // public https.
    p.insert(
        "UserWebhookPrivateOrigins".into(),
        webhook.url().trim_end_matches("/hook").to_string(),
    );
    p.insert("EmailSender".into(), "reminders@todo.local".into());
    // The secrets the stack generates: the cursor key kept in the data folder, the webhook
    // secret the local receiver's signatures are checked with, any other one generated.
    let secrets = crate::secrets::declared(template)
        .into_iter()
        .map(|id| {
            let value = match id.as_str() {
                "CursorSigningKeySecret" => cursor_key.clone(),
                "WebhookSigningSecret" => LOCAL_WEBHOOK_SECRET.to_string(),
                _ => uuid::Uuid::new_v4().simple().to_string(),
            };
            (id, value)
        })
        .collect();
    // The local schedule runs the sweep every few seconds: one sweep per invocation.
    p.insert("SweepWindowSeconds".into(), "0".into());
    p.insert(
        "LogLevel".into(),
        template
            .parameter_default("LogLevel")
            .unwrap_or("INFO".into()),
    );
    Ok((p, secrets))
}

/// A function's environment: its template variables resolved as CloudFormation would
/// (`Template::resolve`), the local endpoints of the AWS services added.
fn environment(
    template: &Template,
    f: &FunctionDefinition,
    parameters: &HashMap<String, String>,
    dynamo: &EmbeddedDynamo,
    secrets: &LocalSecrets,
    ses: &LocalSes,
    management: Option<&str>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = f
        .environment
        .iter()
        .map(|(k, v)| match template.resolve(parameters, v) {
            Value::String(s) => (k.clone(), s),
            other => (k.clone(), other.to_string()),
        })
        .collect();
    env.push(("AWS_ENDPOINT_URL_SESV2".into(), ses.url().to_string()));
    if let Some(url) = management {
        env.push((
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI".into(),
            url.to_string(),
        ));
    }
    env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamo.endpoint()));
    env.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
        secrets.url().to_string(),
    ));
    let level = parameters
        .get("LogLevel")
        .cloned()
        .unwrap_or_else(|| "INFO".into());
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), level));
    env
}
