//! Reading `template.yaml`: the single description of the system, for AWS and for the local
//! cloud alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why the template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("template.yaml: {0}")]
    Shape(String),
}

/// A parsed template; CloudFormation tags (`!Ref`, `!Sub`, ...) become single-key maps.
#[derive(Clone, Debug)]
pub struct Template {
    /// The whole template as JSON (CloudFormation tags as `{"!Tag": value}`), for checks that
    /// read what the typed accessors below do not cover.
    pub root: Value,
}

/// A DynamoDB table the template declares.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDefinition {
    /// The logical id, which the local cloud also uses as the table name.
    pub logical_id: String,
    /// The resource's `Properties`.
    pub properties: Value,
}

impl Template {
    /// The workspace's `template.yaml`.
    pub fn workspace() -> Result<Self, TemplateError> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
    }

    /// A template from a file.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    /// A template from text.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
        let root = serde_json::to_value(yaml)
            .map_err(|e| TemplateError::Shape(format!("not representable as JSON: {e}")))?;
        Ok(Self { root })
    }

    /// Every `AWS::DynamoDB::Table` resource.
    pub fn tables(&self) -> Vec<TableDefinition> {
        let Some(resources) = self.root.get("Resources").and_then(Value::as_object) else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"))
            .map(|(id, r)| TableDefinition {
                logical_id: id.clone(),
                properties: r.get("Properties").cloned().unwrap_or(Value::Null),
            })
            .collect()
    }
}

/// An HTTP API route the template declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRoute {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path template, such as `/tasks/{id}`.
    pub path: String,
    /// The logical id of the function behind it.
    pub function: String,
}

impl HttpRoute {
    /// `"METHOD /path"`, the `routeKey` API Gateway sends.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters when `path` matches this route.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let pattern: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        if pattern.len() != actual.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, a) in pattern.iter().zip(&actual) {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !a.is_empty() => params.push((name.to_string(), a.to_string())),
                Some(_) => return None,
                None if p == a => {}
                None => return None,
            }
        }
        Some(params)
    }
}

impl Template {
    /// Every `HttpApi` event of every function.
    pub fn http_routes(&self) -> Vec<HttpRoute> {
        let Some(resources) = self.root.get("Resources").and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut routes = Vec::new();
        for (id, resource) in resources {
            let Some(events) = resource
                .pointer("/Properties/Events")
                .and_then(Value::as_object)
            else {
                continue;
            };
            for event in events.values() {
                if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                    continue;
                }
                let props = &event["Properties"];
                if let (Some(method), Some(path)) =
                    (props["Method"].as_str(), props["Path"].as_str())
                {
                    routes.push(HttpRoute {
                        method: method.to_ascii_uppercase(),
                        path: path.to_string(),
                        function: id.clone(),
                    });
                }
            }
        }
        // API Gateway routes a request to the most specific match: a literal segment wins over
        // a path variable (HTTP API developer guide, "Working with routes"), so
        // `GET /tasks/changes` is never taken for `GET /tasks/{id}`.
        routes.sort_by_key(|r| {
            r.path
                .trim_matches('/')
                .split('/')
                .map(|seg| seg.starts_with('{'))
                .collect::<Vec<_>>()
        });
        routes
    }

    /// The route a request takes, with its path parameters.
    pub fn route(&self, method: &str, path: &str) -> Option<(HttpRoute, Vec<(String, String)>)> {
        self.http_routes()
            .into_iter()
            .find_map(|r| r.matches(method, path).map(|params| (r, params)))
    }
}

/// A Lambda function the template declares, as the local cloud runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDefinition {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the workspace binary behind it.
    pub binary: String,
    /// `Environment.Variables`, the Globals' merged under the function's own as SAM merges
    /// them, values still unresolved (`!Ref X` appears as `{"!Ref": "X"}`).
    pub environment: Vec<(String, Value)>,
    /// `Timeout` in seconds (the function's, else the Globals', else 3).
    pub timeout_seconds: u64,
    /// `Events`, by name.
    pub events: Vec<(String, Value)>,
    /// `ReservedConcurrentExecutions`: the most execution environments it may run at once.
    pub reserved_concurrency: Option<usize>,
    /// `LoggingConfig.LogFormat` (the function's, else the Globals'): Lambda hands it to the
    /// runtime as `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: Option<String>,
}

impl Template {
    /// Every `AWS::Serverless::Function` built from a workspace binary.
    pub fn functions(&self) -> Vec<FunctionDefinition> {
        let global_timeout = self
            .root
            .pointer("/Globals/Function/Timeout")
            .and_then(Value::as_u64);
        let global_environment = &self.root["Globals"]["Function"]["Environment"]["Variables"];
        let global_log_format = self
            .root
            .pointer("/Globals/Function/LoggingConfig/LogFormat")
            .and_then(Value::as_str);
        let Some(resources) = self.root.get("Resources").and_then(Value::as_object) else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|(_, r)| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function")
            })
            .filter_map(|(id, r)| {
                let binary = r
                    .pointer("/Metadata/BuildProperties/Binary")?
                    .as_str()?
                    .to_string();
                let props = &r["Properties"];
                let map = |v: &Value| -> Vec<(String, Value)> {
                    v.as_object()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default()
                };
                Some(FunctionDefinition {
                    logical_id: id.clone(),
                    binary,
                    environment: {
                        let own = map(&props["Environment"]["Variables"]);
                        let mut all: Vec<(String, Value)> = map(global_environment)
                            .into_iter()
                            .filter(|(k, _)| !own.iter().any(|(o, _)| o == k))
                            .collect();
                        all.extend(own);
                        all
                    },
                    timeout_seconds: props["Timeout"].as_u64().or(global_timeout).unwrap_or(3),
                    events: map(&props["Events"]),
                    reserved_concurrency: props["ReservedConcurrentExecutions"]
                        .as_u64()
                        .map(|n| n as usize),
                    log_format: props["LoggingConfig"]["LogFormat"]
                        .as_str()
                        .or(global_log_format)
                        .map(str::to_string),
                })
            })
            .collect()
    }

    /// The function `logical_id`, or an error that names every function the template has.
    pub fn function(&self, logical_id: &str) -> Result<FunctionDefinition, String> {
        let functions = self.functions();
        let known: Vec<&str> = functions.iter().map(|f| f.logical_id.as_str()).collect();
        let list = known.join(", ");
        functions
            .iter()
            .find(|f| f.logical_id == logical_id)
            .cloned()
            .ok_or_else(|| format!("template.yaml has no function {logical_id} (it has: {list})"))
    }

    /// A parameter's `Default`, if it has one.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        self.root
            .pointer(&format!("/Parameters/{name}/Default"))
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
    }
}

/// The account the local cloud stands for (`AWS::AccountId`).
pub const ACCOUNT_ID: &str = "000000000000";
/// The region the local cloud stands for (`AWS::Region`).
pub const REGION: &str = "us-east-1";

/// The local ARN of a function, as `!GetAtt <Function>.Arn` resolves.
pub fn function_arn(logical_id: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}")
}

/// The local ARN of a table (named by its logical id), as `!GetAtt <Table>.Arn` resolves.
pub fn table_arn(table: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}")
}

/// The label of every local table's stream (`.../table/T/stream/<label>`).
pub const STREAM_LABEL: &str = "local";

impl Template {
    /// What `!GetAtt <logical_id>.<attribute>` (or `${logical_id.attribute}` in a `!Sub`)
    /// resolves to locally, by the resource's type and AWS's ARN formats; `None` for a
    /// resource the template does not declare.
    pub fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        let kind = self.root["Resources"][logical_id]["Type"].as_str()?;
        Some(match (kind, attribute) {
            ("AWS::DynamoDB::Table", "Arn") => table_arn(logical_id),
            ("AWS::DynamoDB::Table", "StreamArn") => {
                format!("{}/stream/{STREAM_LABEL}", table_arn(logical_id))
            }
            ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{logical_id}"),
            ("AWS::SQS::Queue", "QueueName") => logical_id.to_string(),
            ("AWS::SQS::Queue", "QueueUrl") => {
                format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{logical_id}")
            }
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{logical_id}:*")
            }
            ("AWS::SNS::Topic", "TopicArn") => {
                format!("arn:aws:sns:{REGION}:{ACCOUNT_ID}:{logical_id}")
            }
            // Functions, and what has no local meaning (an ARN of the function's form keeps
            // `!GetAtt TopicsFunction.Arn` as CloudFormation gives it).
            _ => function_arn(logical_id),
        })
    }

    /// What `!Ref <logical_id>` of a resource resolves to locally (CloudFormation's return
    /// value for its type): a name for tables, queues' URLs, topics' ARNs, an API's id, a
    /// stage's name; the logical id where the local name is the logical id.
    fn reference(&self, logical_id: &str) -> Option<String> {
        let resource = &self.root["Resources"][logical_id];
        let kind = resource["Type"].as_str()?;
        Some(match kind {
            "AWS::SQS::Queue" => self.attribute(logical_id, "QueueUrl")?,
            "AWS::SNS::Topic" => self.attribute(logical_id, "TopicArn")?,
            "AWS::ApiGatewayV2::Api" => LOCAL_API_ID.to_string(),
            "AWS::ApiGatewayV2::Stage" => resource["Properties"]["StageName"]
                .as_str()
                .unwrap_or(logical_id)
                .to_string(),
            _ => logical_id.to_string(),
        })
    }
}

/// The id of every local API Gateway API (`!Ref` of an `AWS::ApiGatewayV2::Api`).
pub const LOCAL_API_ID: &str = "local";

impl Template {
    /// Resolves `value` as CloudFormation does before a resource sees it: parameters (`values`,
    /// else the template's defaults), references to resources (their logical id locally),
    /// `!GetAtt <Function>.Arn`, `!If` by the template's conditions, `!Sub` of names and
    /// pseudo parameters; numbers and booleans become strings.
    pub fn resolve(&self, values: &HashMap<String, String>, value: &Value) -> Value {
        resolve(self, values, value)
    }

    /// Whether the template's condition `name` holds with these parameter values.
    pub fn condition_holds(&self, values: &HashMap<String, String>, name: &str) -> bool {
        condition(self, values, name)
    }
}

fn resolve(template: &Template, values: &HashMap<String, String>, value: &Value) -> Value {
    let parameter = |name: &str| {
        values
            .get(name)
            .cloned()
            .or_else(|| template.parameter_default(name))
    };
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next().expect("one entry");
            match key.as_str() {
                "!Ref" => {
                    let name = arg.as_str().unwrap_or_default();
                    if name == "AWS::NoValue" {
                        return Value::Null;
                    }
                    Value::String(
                        pseudo(name)
                            .map(str::to_string)
                            .or_else(|| parameter(name))
                            .or_else(|| template.reference(name))
                            .unwrap_or_else(|| name.to_string()),
                    )
                }
                "!GetAtt" => {
                    let target = match arg {
                        Value::Array(parts) => parts
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("."),
                        other => other.as_str().unwrap_or_default().to_string(),
                    };
                    let (id, attribute) = target.split_once('.').unwrap_or((&target, "Arn"));
                    Value::String(
                        template
                            .attribute(id, attribute)
                            .unwrap_or_else(|| function_arn(id)),
                    )
                }
                "!Sub" => {
                    // `!Sub text` or `!Sub [text, {name: value}]`.
                    let (text, names) = match arg {
                        Value::Array(parts) => (
                            parts.first().and_then(Value::as_str).unwrap_or_default(),
                            parts
                                .get(1)
                                .map(|v| resolve(template, values, v))
                                .unwrap_or(Value::Null),
                        ),
                        other => (other.as_str().unwrap_or_default(), Value::Null),
                    };
                    Value::String(substitute(text, |name| {
                        if let Some(v) = names.get(name).and_then(Value::as_str) {
                            return v.to_string();
                        }
                        if let Some((id, attribute)) = name.split_once('.')
                            && let Some(v) = template.attribute(id, attribute)
                        {
                            return v;
                        }
                        pseudo(name)
                            .map(str::to_string)
                            .or_else(|| parameter(name))
                            .or_else(|| template.reference(name))
                            .unwrap_or_else(|| name.to_string())
                    }))
                }
                "!Select" => {
                    let parts = arg.as_array().cloned().unwrap_or_default();
                    let index = parts
                        .first()
                        .map(|i| resolve(template, values, i))
                        .and_then(|i| i.as_str().and_then(|i| i.parse::<usize>().ok()));
                    let list = parts
                        .get(1)
                        .map(|l| resolve(template, values, l))
                        .unwrap_or(Value::Null);
                    match (index, list) {
                        (Some(i), Value::Array(items)) => {
                            items.get(i).cloned().unwrap_or(Value::Null)
                        }
                        _ => Value::Null,
                    }
                }
                "!Split" => {
                    let parts = arg.as_array().cloned().unwrap_or_default();
                    let separator = parts.first().and_then(Value::as_str).unwrap_or_default();
                    let text = parts
                        .get(1)
                        .map(|t| resolve(template, values, t))
                        .and_then(|t| t.as_str().map(str::to_string))
                        .unwrap_or_default();
                    if separator.is_empty() {
                        return Value::Array(vec![Value::String(text)]);
                    }
                    Value::Array(
                        text.split(separator)
                            .map(|p| Value::String(p.to_string()))
                            .collect(),
                    )
                }
                "!Join" => {
                    let parts = arg.as_array().cloned().unwrap_or_default();
                    let separator = parts.first().and_then(Value::as_str).unwrap_or_default();
                    let items = parts
                        .get(1)
                        .map(|list| resolve(template, values, list))
                        .unwrap_or(Value::Null);
                    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
                    Value::String(match items {
                        Value::Array(items) => {
                            items.iter().map(text).collect::<Vec<_>>().join(separator)
                        }
                        // A list parameter's value, given as one comma-separated string.
                        other => text(&other),
                    })
                }
                "!If" => {
                    let branches = arg.as_array().cloned().unwrap_or_default();
                    let chosen = branches
                        .first()
                        .and_then(Value::as_str)
                        .map(|c| condition(template, values, c))
                        .map(|holds| if holds { 1 } else { 2 });
                    let branch = chosen.and_then(|i| branches.get(i)).unwrap_or(&Value::Null);
                    resolve(template, values, branch)
                }
                _ => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), resolve(template, values, v)))
                        .filter(|(_, v)| !v.is_null())
                        .collect(),
                ),
            }
        }
        // `!Ref AWS::NoValue` removes the property or list item it stands for.
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(template, values, v)))
                .filter(|(_, v)| !v.is_null())
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve(template, values, v))
                .filter(|v| !v.is_null())
                .collect(),
        ),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other.clone(),
    }
}

/// Whether the template's condition `name` holds with these parameter values.
fn condition(template: &Template, values: &HashMap<String, String>, name: &str) -> bool {
    let definition = &template.root["Conditions"][name];
    holds(template, values, definition)
}

fn holds(template: &Template, values: &HashMap<String, String>, expr: &Value) -> bool {
    let Some((key, arg)) = expr.as_object().and_then(|m| m.iter().next()) else {
        return false;
    };
    let args = arg.as_array().cloned().unwrap_or_default();
    match key.as_str() {
        "!Equals" => {
            let text = |v: &Value| match resolve(template, values, v) {
                Value::String(s) => s,
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            args.len() == 2 && text(&args[0]) == text(&args[1])
        }
        "!Not" => args.first().is_some_and(|a| !holds(template, values, a)),
        "!And" => args.iter().all(|a| holds(template, values, a)),
        "!Or" => args.iter().any(|a| holds(template, values, a)),
        "!Condition" => condition(template, values, arg.as_str().unwrap_or_default()),
        _ => false,
    }
}

/// `${Name}` replaced by `value(Name)`; `${!Literal}` stays `${Literal}`.
fn substitute(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => out.push_str(&format!("${{{literal}}}")),
            None => out.push_str(&value(name)),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The local values of CloudFormation's pseudo parameters.
fn pseudo(name: &str) -> Option<&'static str> {
    match name {
        "AWS::Region" => Some(REGION),
        "AWS::AccountId" => Some(ACCOUNT_ID),
        "AWS::Partition" => Some("aws"),
        "AWS::URLSuffix" => Some("amazonaws.com"),
        "AWS::StackName" => Some("todo-local"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CloudFormation evaluates a rule with the rule functions and Ref only (AWS CloudFormation
    /// template reference, "Rule functions"); anything else (an Fn::Join) fails the deploy
    /// although linters pass it.
    #[test]
    fn rules_use_only_rule_functions() {
        const RULE_FUNCTIONS: [&str; 11] = [
            "!And",
            "!Contains",
            "!EachMemberEquals",
            "!EachMemberIn",
            "!Equals",
            "!Not",
            "!Or",
            "!RefAll",
            "!ValueOf",
            "!ValueOfAll",
            "!Ref",
        ];
        fn walk(v: &Value, found: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if k.starts_with('!') && !RULE_FUNCTIONS.contains(&k.as_str()) {
                            found.push(k.clone());
                        }
                        walk(v, found);
                    }
                }
                Value::Array(items) => items.iter().for_each(|i| walk(i, found)),
                _ => {}
            }
        }
        let template = Template::workspace().unwrap();
        let mut found = Vec::new();
        walk(&template.root["Rules"], &mut found);
        assert_eq!(found, Vec::<String>::new());
        let mut bad = Vec::new();
        walk(
            &serde_json::json!({"Assert": {"!Not": [{"!Equals": [{"!Join": ["", []]}, ""]}]}}),
            &mut bad,
        );
        assert_eq!(bad, ["!Join"], "the check sees a function out of place");
    }

    #[test]
    fn the_workspace_template_declares_the_tasks_table() {
        let template = Template::workspace().unwrap();
        let tables = template.tables();
        let tasks = tables
            .iter()
            .find(|t| t.logical_id == "TasksTable")
            .unwrap();
        assert_eq!(
            tasks.properties["StreamSpecification"]["StreamViewType"],
            "NEW_AND_OLD_IMAGES"
        );
    }

    #[test]
    fn routes_come_from_the_functions_http_api_events() {
        let template = Template::workspace().unwrap();
        let (route, params) = template.route("POST", "/tasks/abc/complete").unwrap();
        assert_eq!(route.key(), "POST /tasks/{id}/complete");
        assert_eq!(route.function, "CompleteTaskFunction");
        assert_eq!(params, [("id".to_string(), "abc".to_string())]);
        assert!(template.route("PUT", "/tasks/abc").is_none());
        assert!(template.route("GET", "/tasks//history").is_none());
        assert_eq!(
            template.route("GET", "/tasks").unwrap().0.function,
            "ListTasksFunction"
        );
    }

    #[test]
    fn functions_carry_their_binary_environment_timeout_and_events() {
        let template = Template::workspace().unwrap();
        let functions = template.functions();
        let publisher = functions
            .iter()
            .find(|f| f.logical_id == "PublisherFunction")
            .unwrap();
        assert_eq!(publisher.binary, "publisher");
        assert_eq!(publisher.timeout_seconds, 30);
        assert!(
            publisher
                .environment
                .iter()
                .any(|(k, _)| k == "KAFKA_BOOTSTRAP_SERVERS")
        );
        assert_eq!(publisher.events[0].1["Type"], "DynamoDB");
        let get = functions
            .iter()
            .find(|f| f.logical_id == "GetTaskFunction")
            .unwrap();
        assert_eq!(get.timeout_seconds, 10, "from Globals");
        assert_eq!(
            get.environment
                .iter()
                .find(|(k, _)| k == "TASKS_TABLE")
                .unwrap()
                .1,
            serde_json::json!({"!Ref": "TasksTable"})
        );
        assert_eq!(
            template.parameter_default("LogLevel").as_deref(),
            Some("INFO")
        );
    }

    /// SAM merges `Globals.Function.Environment.Variables` into every function's own, the
    /// function's value winning; the local cloud gives its processes the same.
    #[test]
    fn the_globals_environment_is_merged_under_each_functions_own() {
        let template = Template::parse(
            "Globals:\n  Function:\n    Environment:\n      Variables: {A: global, B: global}\n\
             Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: f}}\n\
             \x20   Properties:\n      Environment:\n        Variables: {B: own, C: own}\n",
        )
        .unwrap();
        let mut env = template.functions()[0].environment.clone();
        env.sort_by(|a, b| a.0.cmp(&b.0));
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(env, [("A", "global"), ("B", "own"), ("C", "own")]);
        for f in Template::workspace().unwrap().functions() {
            assert!(
                f.environment.iter().any(|(k, v)| k == "STACK_NAME"
                    && *v == serde_json::json!({"!Ref": "AWS::StackName"})),
                "{} has no STACK_NAME: its metrics would have no Stack",
                f.logical_id
            );
        }
    }

    #[test]
    fn bad_yaml_is_an_error() {
        assert!(matches!(
            Template::parse("a: [b"),
            Err(TemplateError::Yaml(_))
        ));
    }
}
