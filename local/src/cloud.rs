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
use crate::console::Console;
use crate::dynamodb::{DynamoError, EmbeddedDynamo};
use crate::esm::kafka::KafkaMapping;
use crate::esm::schedule;
use crate::esm::stats::MappingStats;
use crate::esm::streams::StreamMapping;
use crate::gateway::{self, Gateway, InvocationObserver};
use crate::iam::{Authority, Credentials};
use crate::kafka::{EmbeddedKafka, KafkaError, Storage};
use crate::lambda_api::LocalLambda;
use crate::push_service::LocalPushService;
use crate::runtime::{FunctionHost, FunctionSpec};
use crate::secrets::LocalSecrets;
use crate::ses::{EventDestination, LocalSes};
use crate::sns::LocalSns;
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
    /// Print what the functions do (`console::Console`): each invocation that did something,
    /// failures with their lines.
    pub print_invocations: bool,
    /// Print every invocation, a schedule run that found nothing too (`--verbose`).
    pub verbose: bool,
    /// Run scheduled functions this often instead of the template's rate (local use).
    pub schedule_every: Option<Duration>,
    /// How many execution environments a function without `ReservedConcurrentExecutions` may
    /// run at once (Lambda's own limit is the account's concurrency).
    pub concurrency: usize,
    /// Refuse what a function's role does not allow (`false`: `--no-iam`, for debugging:
    /// refusals are recorded and printed but let through).
    pub enforce_iam: bool,
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
    #[error("IAM: {0}")]
    Policy(#[from] crate::iam::policy::PolicyError),
    #[error("trigger: {0}")]
    Trigger(#[from] crate::esm::properties::PropertyError),
}

/// A running local cloud; everything stops when it is dropped.
pub struct LocalCloud {
    pub dynamo: EmbeddedDynamo,
    pub kafka: EmbeddedKafka,
    pub webhook: WebhookReceiver,
    /// The e-mail channel's far end (`AWS_ENDPOINT_URL_SESV2`).
    pub ses: LocalSes,
    /// The topics functions subscribe to (SES publishes its bounces and complaints there).
    pub sns: LocalSns,
    /// The push channel's far end (a push service and browser in one).
    pub push: LocalPushService,
    pub secrets: LocalSecrets,
    /// Lambda's Invoke API (`AWS_ENDPOINT_URL_LAMBDA`).
    pub lambda: LocalLambda,
    pub auth: Arc<LocalAuthorizer>,
    /// Every function's role, and the ledger of what they were allowed and refused.
    pub iam: Arc<Authority>,
    /// Mappings that did not start, with Lambda's reason (a permission their trigger needs).
    pub disabled_mappings: Vec<String>,
    /// What the console prints, and its counts since its last summary.
    pub console: Arc<Console>,
    /// The Kafka mappings' lag and dead letters.
    pub mapping_stats: Arc<MappingStats>,
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

/// The ARN the local broker stands for (`MskClusterArn`).
pub const LOCAL_CLUSTER_ARN: &str = "arn:aws:kafka:us-east-1:000000000000:cluster/todo-local/00000000-0000-0000-0000-000000000000-1";

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
        let lambda = LocalLambda::start().await?;
        // Every function's role as SAM makes it; from here on each local AWS endpoint checks
        // every call against its caller's.
        let iam = Arc::new(Authority::new(
            crate::iam::sam::roles(template, &parameters)?,
            config.enforce_iam,
            Some(config.data_dir.join("iam")),
        ));
        dynamo.gate().set(Arc::clone(&iam));
        secrets.gate().set(Arc::clone(&iam));
        lambda.gate().set(Arc::clone(&iam));
        ses.gate().set(Arc::clone(&iam));
        let print = config.print_invocations;
        let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none();
        let console = Arc::new(Console::new(config.verbose, color));
        let live = Arc::clone(&console);
        let watch = print.then(|| {
            crate::function_log::Watch(Arc::new(move |function: &str, line: &str| {
                if let Some(text) = live.live(function, line) {
                    println!("{text}");
                }
            }))
        });
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
                    &iam.credentials(&f.logical_id),
                    &Endpoints {
                        dynamo: &dynamo,
                        secrets: &secrets,
                        lambda: &lambda,
                        ses: &ses,
                        management: management_url.as_deref(),
                    },
                ),
                timeout: Duration::from_secs(f.timeout_seconds),
                log_file: Some(crate::function_log::file_of(
                    &config.data_dir,
                    &f.logical_id,
                )),
                watch: watch.clone(),
            };
            // For `todo-local invoke` against this cloud.
            crate::invoke::record(&config.data_dir, &spec)?;
            // `ReservedConcurrentExecutions` as CloudFormation resolves it (`!Ref SweepWorkers`
            // too; an outside tester ran fourteen workers of a reserved eight at once).
            let reserved = template.resolve(
                &parameters,
                &template.root["Resources"][f.logical_id.as_str()]["Properties"]
                    ["ReservedConcurrentExecutions"],
            );
            let environments = reserved
                .as_str()
                .and_then(|n| n.parse().ok())
                .or(f.reserved_concurrency)
                .unwrap_or(config.concurrency);
            hosts.insert(
                f.logical_id.clone(),
                FunctionHost::with_environments(spec, environments),
            );
        }

        let mapping_stats = Arc::new(MappingStats::default());
        let observer = Arc::clone(&console);
        let observe: InvocationObserver = Arc::new(move |function, trigger, invocation| {
            let text = observer.observe(function, trigger, invocation);
            if print && let Some(text) = text {
                println!("{text}");
            }
        });
        lambda.serve(crate::lambda_api::Serving {
            functions: Arc::new(
                hosts
                    .iter()
                    .map(|(id, host)| {
                        let properties = template.resolve(
                            &parameters,
                            &template.root["Resources"][id.as_str()]["Properties"],
                        );
                        let invocable = crate::lambda_api::Invocable {
                            host: Arc::clone(host),
                            async_retries: crate::lambda_api::async_retries(&properties),
                        };
                        (id.clone(), invocable)
                    })
                    .collect(),
            ),
            observe: Arc::clone(&observe),
            retry_delays: crate::esm::schedule::ASYNC_RETRY_DELAYS,
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
            console: Some(Arc::new(crate::console_page::ConsolePage {
                console: Arc::clone(&console),
                mappings: Arc::clone(&mapping_stats),
                stages: crate::console_page::stages(template),
                webhook: webhook.received_log(),
                email: ses.sent_log(),
                push: push.received_log(),
                data_dir: config.data_dir.clone(),
                kafka_bootstrap: kafka.bootstrap(),
            })),
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
            server.gate().set(Arc::clone(&iam));
            websocket_url = Some(server.url());
            tasks.push(tokio::spawn(crate::websocket::serve(
                listener,
                server,
                Limits::new(config.max_connections),
            )));
        }
        let mut disabled_mappings = Vec::new();
        let sns = LocalSns::default();
        let mappings = Mappings {
            template,
            parameters: &parameters,
            iam: &iam,
            hosts: &hosts,
            dynamo: &dynamo,
            kafka: &kafka,
            sns: &sns,
            observe: &observe,
            stats: &mapping_stats,
        };
        tasks.extend(mappings.start(config, &mut disabled_mappings).await?);
        ses.publish_events(event_destinations(template, &parameters), sns.clone());
        Ok(Self {
            dynamo,
            kafka,
            webhook,
            ses,
            sns,
            push,
            secrets,
            lambda,
            auth,
            iam,
            disabled_mappings,
            console,
            mapping_stats,
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

/// What starting the triggers needs.
struct Mappings<'a> {
    template: &'a Template,
    parameters: &'a HashMap<String, String>,
    iam: &'a Authority,
    hosts: &'a HashMap<String, Arc<FunctionHost>>,
    dynamo: &'a EmbeddedDynamo,
    kafka: &'a EmbeddedKafka,
    sns: &'a LocalSns,
    observe: &'a InvocationObserver,
    stats: &'a Arc<MappingStats>,
}

impl Mappings<'_> {
    /// Starts every event-source mapping and schedule the template declares. A mapping whose
    /// function's role lacks what Lambda needs to run it does not start: it is reported in
    /// `disabled` (and printed) with Lambda's reason, as AWS leaves such a mapping disabled.
    async fn start(
        &self,
        config: &CloudConfig,
        disabled: &mut Vec<String>,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, CloudError> {
        const IDLE: Duration = Duration::from_millis(100);
        let mut tasks = Vec::new();
        for f in self.template.functions() {
            let Some(host) = self.hosts.get(&f.logical_id) else {
                continue;
            };
            for (name, event) in &f.events {
                let kind = event["Type"].as_str().unwrap_or_default();
                let properties = self.template.resolve(self.parameters, &event["Properties"]);
                crate::esm::properties::check(&f.logical_id, name, kind, &properties)?;
                if properties["Enabled"] == "false" || properties["State"] == "DISABLED" {
                    continue;
                }
                let needs = match kind {
                    "DynamoDB" => crate::iam::triggers::stream_mapping(&properties),
                    "MSK" => crate::iam::triggers::msk_mapping(&properties),
                    // Asynchronous invocations: the function's dead-letter queue.
                    "SNS" => {
                        let declared = &self.template.root["Resources"][f.logical_id.as_str()];
                        let dead_letter = self
                            .template
                            .resolve(self.parameters, &declared["Properties"]["DeadLetterQueue"]);
                        crate::iam::triggers::dead_letter_queue(&dead_letter)
                            .into_iter()
                            .collect()
                    }
                    _ => Vec::new(),
                };
                if let Err(missing) =
                    self.iam
                        .check_role(&f.logical_id, &needs, &format!("{kind} mapping {name}"))
                {
                    let reason = crate::iam::triggers::disabled_message(kind, &missing);
                    eprintln!(
                        "todo-local: {} event {name}: the event source mapping is disabled: {reason}",
                        f.logical_id
                    );
                    disabled.push(format!("{} {name}: {reason}", f.logical_id));
                    continue;
                }
                let declared = &event["Properties"];
                let host = Arc::clone(host);
                match kind {
                    "DynamoDB" => {
                        let Some(mut m) =
                            StreamMapping::from_properties(declared, host, &config.data_dir)
                        else {
                            continue;
                        };
                        let db = self.dynamo.database().clone();
                        let observe = Arc::clone(self.observe);
                        tasks.push(tokio::spawn(async move {
                            loop {
                                if m.poll(&db, observe.as_ref()).await == 0 {
                                    tokio::time::sleep(IDLE).await;
                                }
                            }
                        }));
                    }
                    "MSK" => {
                        let Some(mut m) =
                            KafkaMapping::from_properties(declared, host, &config.data_dir)
                        else {
                            continue;
                        };
                        m.stats = Arc::clone(self.stats);
                        let client = Arc::new(self.kafka.client().await?);
                        m.pin_start(&client).await;
                        tasks.push(tokio::spawn(m.run(client, Arc::clone(self.observe))));
                    }
                    "SNS" => {
                        let topic = properties["Topic"].as_str().unwrap_or_default();
                        self.sns.subscribe(topic, host, Arc::clone(self.observe));
                    }
                    _ => {
                        if let Some(rate) = schedule::rate_of(event) {
                            let every = config.schedule_every.unwrap_or(rate);
                            tasks.push(tokio::spawn(schedule::run(
                                event.clone(),
                                host,
                                every,
                                Arc::clone(self.observe),
                            )));
                        }
                    }
                }
            }
        }
        Ok(tasks)
    }
}

/// Where the template's SES configuration sets publish their events: each
/// `AWS::SES::ConfigurationSetEventDestination` (whose condition holds) with an SNS destination.
fn event_destinations(template: &Template, parameters: &Names) -> Vec<EventDestination> {
    let resources = template.root["Resources"].as_object().into_iter().flatten();
    resources
        .filter(|(_, r)| r["Type"] == "AWS::SES::ConfigurationSetEventDestination")
        .filter(|(_, r)| {
            r["Condition"]
                .as_str()
                .is_none_or(|c| template.condition_holds(parameters, c))
        })
        .filter_map(|(_, r)| {
            let p = template.resolve(parameters, &r["Properties"]);
            let d = &p["EventDestination"];
            if d["Enabled"] == "false" {
                return None;
            }
            Some(EventDestination {
                configuration_set: p["ConfigurationSetName"].as_str()?.to_string(),
                event_types: d["MatchingEventTypes"]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect(),
                topic_arn: d["SnsDestination"]["TopicARN"].as_str()?.to_string(),
            })
        })
        .collect()
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
    // The cluster the MSK triggers and the kafka-cluster grants name (its topic and group
    // ARNs are derived from it as MSK's are).
    p.insert("MskClusterArn".into(), LOCAL_CLUSTER_ARN.into());
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

/// The local AWS endpoints a function is pointed at.
struct Endpoints<'a> {
    dynamo: &'a EmbeddedDynamo,
    secrets: &'a LocalSecrets,
    lambda: &'a LocalLambda,
    ses: &'a LocalSes,
    management: Option<&'a str>,
}

/// A function's environment: its template variables resolved as CloudFormation would
/// (`Template::resolve`), its own credentials (so every request it signs names it), the local
/// endpoints of the AWS services added.
fn environment(
    template: &Template,
    f: &FunctionDefinition,
    parameters: &HashMap<String, String>,
    credentials: &Credentials,
    endpoints: &Endpoints<'_>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = f
        .environment
        .iter()
        .filter_map(|(k, v)| match template.resolve(parameters, v) {
            // `!Ref AWS::NoValue`: no such variable.
            Value::Null => None,
            Value::String(s) => Some((k.clone(), s)),
            other => Some((k.clone(), other.to_string())),
        })
        .collect();
    let aws = [
        ("AWS_ACCESS_KEY_ID", Some(credentials.access_key_id.clone())),
        (
            "AWS_SECRET_ACCESS_KEY",
            Some(credentials.secret_access_key.clone()),
        ),
        ("AWS_SESSION_TOKEN", Some(credentials.session_token.clone())),
        (
            "AWS_ENDPOINT_URL_SESV2",
            Some(endpoints.ses.url().to_string()),
        ),
        (
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
            endpoints.management.map(str::to_string),
        ),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            Some(endpoints.dynamo.endpoint()),
        ),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            Some(endpoints.secrets.url().to_string()),
        ),
        (
            "AWS_ENDPOINT_URL_LAMBDA",
            Some(endpoints.lambda.url().to_string()),
        ),
    ];
    env.extend(
        aws.into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value?))),
    );
    let level = parameters
        .get("LogLevel")
        .cloned()
        .unwrap_or_else(|| "INFO".into());
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), level));
    // Lambda's advanced logging controls: the runtime formats its lines as the template says
    // (lambda_runtime's default subscriber reads it; JSON lines are what the console reads).
    if let Some(format) = &f.log_format {
        env.push(("AWS_LAMBDA_LOG_FORMAT".into(), format.clone()));
    }
    env
}
