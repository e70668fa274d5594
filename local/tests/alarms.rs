//! Issue #22: every way the stack can fail reaches the operator.
//!
//! A function, a Kafka or stream mapping, a schedule, an API, a table or a queue without an
//! alarm fails silently in AWS: nothing the code emits moves when Lambda never invokes it. These
//! tests read `template.yaml` and name what has no alarm, what alarm notifies nobody, and what
//! alarm watches a metric of something the template does not declare (an alarm on a typo never
//! fires, and neither `sam validate --lint` nor CloudFormation says so).

use serde_json::Value;
use todo_local::template::Template;

/// The `Function` value of an embedded metric that is not its binary's name.
const EMF_NAMES: [(&str, &str); 1] = [("reminder-sweep", "tasks-sweep-reminders")];

fn resources(root: &Value) -> Vec<(&str, &Value)> {
    root["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

fn of_type<'a>(root: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(root)
        .into_iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The logical id a `!Ref X` or `!GetAtt X.Attribute` names.
fn target(value: &Value) -> Option<&str> {
    if let Some(id) = value["!Ref"].as_str() {
        return Some(id);
    }
    match &value["!GetAtt"] {
        Value::String(s) => s.split('.').next(),
        Value::Array(parts) => parts.first().and_then(Value::as_str),
        _ => None,
    }
}

/// One metric an alarm watches: namespace, name and dimensions, from a single-metric alarm
/// or from each `MetricStat` of a metric-math alarm.
struct Metric<'a> {
    namespace: &'a str,
    name: &'a str,
    dimensions: Vec<(&'a str, &'a Value)>,
}

impl Metric<'_> {
    fn dimension(&self, name: &str) -> Option<&Value> {
        self.dimensions
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

fn metrics(properties: &Value) -> Vec<Metric<'_>> {
    match properties["Metrics"].as_array() {
        Some(list) => list
            .iter()
            .filter_map(|m| metric(&m["MetricStat"]["Metric"]))
            .collect(),
        None => metric(properties).into_iter().collect(),
    }
}

fn metric(m: &Value) -> Option<Metric<'_>> {
    Some(Metric {
        namespace: m["Namespace"].as_str()?,
        name: m["MetricName"].as_str()?,
        dimensions: m["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["Name"].as_str()?, &d["Value"])))
            .collect(),
    })
}

/// What must have an alarm and has none, one line each, naming it.
fn missing(root: &Value) -> Vec<String> {
    let alarms = of_type(root, "AWS::CloudWatch::Alarm");
    // Whether an alarm watches `namespace`/`name` with `dimension` naming `id`, under the same
    // condition as the thing it watches (else the alarm's reference breaks the deploy).
    let watched = |namespace: &str, name: &str, dimension: &str, id: &str, condition: &Value| {
        alarms.iter().any(|(_, alarm)| {
            alarm["Condition"] == *condition
                && metrics(&alarm["Properties"]).iter().any(|m| {
                    m.namespace == namespace
                        && m.name == name
                        && m.dimension(dimension).and_then(target) == Some(id)
                })
        })
    };
    // What a dead-letter queue named by `arn` lacks: the queue itself, or its alarm.
    let dead_letters = |arn: &Value, what: &str, property: &str| match target(arn) {
        None => Some(format!("{what}: no {property}")),
        Some(queue) => (!watched(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            queue,
            &root["Resources"][queue]["Condition"],
        ))
        .then(|| format!("{what}: its dead-letter queue {queue} has no alarm")),
    };
    let mut out = Vec::new();
    for (id, function) in of_type(root, "AWS::Serverless::Function") {
        let condition = &function["Condition"];
        for metric in ["Errors", "Throttles"] {
            if !watched("AWS/Lambda", metric, "FunctionName", id, condition) {
                out.push(format!("{id}: no {metric} alarm"));
            }
        }
        let events = function["Properties"]["Events"].as_object();
        for (event, e) in events.into_iter().flatten() {
            let p = &e["Properties"];
            match e["Type"].as_str().unwrap_or_default() {
                // SAM names a mapping <Function><Event>; its Ref is the mapping's UUID.
                "MSK" => {
                    let mapping = format!("{id}{event}");
                    if !watched(
                        "AWS/Lambda",
                        "OffsetLag",
                        "EventSourceMappingUUID",
                        &mapping,
                        condition,
                    ) {
                        out.push(format!("{id} event {event}: no OffsetLag alarm"));
                    }
                }
                "DynamoDB"
                    if !watched("AWS/Lambda", "IteratorAge", "FunctionName", id, condition) =>
                {
                    out.push(format!("{id} event {event}: no IteratorAge alarm"));
                }
                // SNS invokes asynchronously: what fails after Lambda's retries goes to the
                // function's dead-letter queue, which needs its alarm.
                "SNS" => out.extend(dead_letters(
                    &function["Properties"]["DeadLetterQueue"]["TargetArn"],
                    &format!("{id} event {event}"),
                    "DeadLetterQueue",
                )),
                "ScheduleV2" | "Schedule" => {
                    if p["RetryPolicy"].is_null() {
                        out.push(format!("{id} event {event}: no RetryPolicy"));
                    }
                    out.extend(dead_letters(
                        &p["DeadLetterConfig"]["Arn"],
                        &format!("{id} event {event}"),
                        "DeadLetterConfig Arn",
                    ));
                }
                _ => {}
            }
        }
    }
    for (id, api) in of_type(root, "AWS::Serverless::HttpApi") {
        for metric in ["5xx", "Latency"] {
            if !watched("AWS/ApiGateway", metric, "ApiId", id, &api["Condition"]) {
                out.push(format!("{id}: no {metric} alarm"));
            }
        }
    }
    for (id, api) in of_type(root, "AWS::ApiGatewayV2::Api") {
        for metric in ["ExecutionError", "IntegrationError"] {
            if !watched("AWS/ApiGateway", metric, "ApiId", id, &api["Condition"]) {
                out.push(format!("{id}: no {metric} alarm"));
            }
        }
    }
    for (id, table) in of_type(root, "AWS::DynamoDB::Table") {
        for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
            if !watched("AWS/DynamoDB", metric, "TableName", id, &table["Condition"]) {
                out.push(format!("{id}: no {metric} alarm"));
            }
        }
    }
    for (id, queue) in of_type(root, "AWS::SQS::Queue") {
        let metric = "ApproximateNumberOfMessagesVisible";
        if !watched("AWS/SQS", metric, "QueueName", id, &queue["Condition"]) {
            out.push(format!("{id}: no {metric} alarm"));
        }
    }
    out
}

/// Alarms that notify nobody, or watch a metric of something the template does not declare.
fn unsound(root: &Value) -> Vec<String> {
    let declared = |id: &str| !root["Resources"][id].is_null();
    // The mappings SAM generates from the functions' events (<Function><Event>).
    let mapping = |id: &str| {
        of_type(root, "AWS::Serverless::Function")
            .iter()
            .any(|(f, function)| {
                function["Properties"]["Events"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .any(|(event, e)| {
                        matches!(e["Type"].as_str(), Some("MSK" | "DynamoDB"))
                            && format!("{f}{event}") == id
                    })
            })
    };
    let binaries: Vec<String> = of_type(root, "AWS::Serverless::Function")
        .iter()
        .filter_map(|(_, f)| {
            f["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let mut out = Vec::new();
    for (id, alarm) in of_type(root, "AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        let notifies = p["AlarmActions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| target(v) == Some("AlarmTopic")));
        if !notifies {
            out.push(format!("{id}: AlarmTopic is not in its AlarmActions"));
        }
        let watched = metrics(p);
        if watched.is_empty() {
            out.push(format!("{id}: watches no metric"));
        }
        for m in &watched {
            // The stack's own metrics are per stack (shared/lambda/src/metrics.rs): an alarm
            // without the Stack dimension watches a metric no function emits.
            let mut names: Vec<&str> = m.dimensions.iter().map(|(n, _)| *n).collect();
            names.sort_unstable();
            if m.namespace == "ServerlessTodo" && names != ["Function", "Stack"] {
                out.push(format!(
                    "{id}: ServerlessTodo {} has dimensions {names:?}, not Stack and Function",
                    m.name
                ));
            }
            for (name, value) in &m.dimensions {
                let sound = match (*name, target(value), value.as_str()) {
                    ("Stack", Some("AWS::StackName"), _) => true,
                    ("EventSourceMappingUUID", Some(t), _) => mapping(t),
                    (_, Some(t), _) => declared(t),
                    // An embedded metric's Function: the binary that emits it.
                    ("Function", None, Some(f)) => {
                        let binary = EMF_NAMES
                            .iter()
                            .find(|(name, _)| *name == f)
                            .map_or(f, |(_, binary)| *binary);
                        binaries.iter().any(|b| b == binary)
                    }
                    // SAM deploys an HttpApi without StageName as the $default stage.
                    ("Stage", None, Some("$default")) => {
                        m.dimension("ApiId").and_then(target).is_some_and(|api| {
                            root["Resources"][api]["Type"] == "AWS::Serverless::HttpApi"
                                && root["Resources"][api]["Properties"]["StageName"].is_null()
                        })
                    }
                    ("GlobalSecondaryIndexName", None, Some(index)) => m
                        .dimension("TableName")
                        .and_then(target)
                        .is_some_and(|table| {
                            root["Resources"][table]["Properties"]["GlobalSecondaryIndexes"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|g| g["IndexName"] == index)
                        }),
                    _ => false,
                };
                if !sound {
                    out.push(format!(
                        "{id}: {} {} dimension {name} = {value} names nothing the template declares",
                        m.namespace, m.name
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_function_mapping_schedule_api_table_and_queue_has_its_alarm() {
    let template = Template::workspace().unwrap();
    assert_eq!(missing(&template.root), Vec::<String>::new());
}

#[test]
fn every_alarm_notifies_the_alarm_topic_about_something_the_template_declares() {
    let template = Template::workspace().unwrap();
    assert_eq!(unsound(&template.root), Vec::<String>::new());
}

/// The checks see what they are for: an alarm taken away is named, and so is an alarm on a
/// function that does not exist.
#[test]
fn the_checks_name_what_lacks_an_alarm_and_alarms_on_nothing() {
    let template = Template::workspace().unwrap();
    let mut root = template.root.clone();
    let resources = root["Resources"].as_object_mut().unwrap();
    resources.remove("CreateTaskErrorAlarm").unwrap();
    resources.remove("AuditConsumerTaskEventsLagAlarm").unwrap();
    resources.remove("ScheduleDeadLetterAlarm").unwrap();
    resources.remove("EmailFeedbackDeadLetterAlarm").unwrap();
    let mut found = missing(&root);
    found.sort();
    assert_eq!(
        found,
        [
            "AuditConsumerFunction event TaskEvents: no OffsetLag alarm",
            "CreateTaskFunction: no Errors alarm",
            "EmailChannelFunction event DrainParked: its dead-letter queue ScheduleDeadLetterQueue has no alarm",
            "EmailFeedbackDeadLetterQueue: no ApproximateNumberOfMessagesVisible alarm",
            "EmailFeedbackFunction event SesEvents: its dead-letter queue EmailFeedbackDeadLetterQueue has no alarm",
            "PushChannelFunction event DrainParked: its dead-letter queue ScheduleDeadLetterQueue has no alarm",
            "ScheduleDeadLetterQueue: no ApproximateNumberOfMessagesVisible alarm",
            "SweepRemindersFunction event EveryMinute: its dead-letter queue ScheduleDeadLetterQueue has no alarm",
            "UserWebhooksChannelFunction event DrainParked: its dead-letter queue ScheduleDeadLetterQueue has no alarm",
        ]
    );
    let stack = &mut root["Resources"]["SweepUnreadableAlarm"]["Properties"]["Dimensions"];
    stack
        .as_array_mut()
        .unwrap()
        .retain(|d| d["Name"] != "Stack");
    let alarm = &mut root["Resources"]["GetTaskThrottleAlarm"]["Properties"];
    alarm["Dimensions"][0]["Value"] = serde_json::json!({"!Ref": "GetTaskFunctoin"});
    alarm["AlarmActions"] = serde_json::json!([]);
    let mut found = unsound(&root);
    found.sort();
    assert_eq!(
        found,
        [
            "GetTaskThrottleAlarm: AWS/Lambda Throttles dimension FunctionName = {\"!Ref\":\"GetTaskFunctoin\"} names nothing the template declares",
            "GetTaskThrottleAlarm: AlarmTopic is not in its AlarmActions",
            "SweepUnreadableAlarm: ServerlessTodo Unreadable has dimensions [\"Function\"], not Stack and Function",
        ]
    );
}

/// docs/operations.md repairs with what the stack's outputs name: every table, every queue, the
/// alarm topic and the webhook signing secret (`aws cloudformation describe-stacks`).
#[test]
fn the_outputs_name_what_the_runbook_works_with() {
    let template = Template::workspace().unwrap();
    let root = &template.root;
    let outputs: Vec<&str> = root["Outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, o)| target(&o["Value"]))
        .collect();
    let mut needed: Vec<&str> = ["AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic"]
        .iter()
        .flat_map(|kind| of_type(root, kind))
        .map(|(id, _)| id)
        .collect();
    needed.push("WebhookSigningSecret");
    let missing: Vec<&str> = needed
        .into_iter()
        .filter(|id| !outputs.contains(id))
        .collect();
    assert_eq!(missing, Vec::<&str>::new(), "no output names these");
}

/// docs/operations.md is the runbook: every alarm the template declares is in it, by its
/// logical id, with what it means and how to repair it.
#[test]
fn the_runbook_covers_every_alarm() {
    let template = Template::workspace().unwrap();
    let runbook = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/operations.md"
    ))
    .unwrap();
    let absent: Vec<&str> = of_type(&template.root, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !runbook.contains(&format!("`{id}`")))
        .collect();
    assert_eq!(absent, Vec::<&str>::new(), "not in docs/operations.md");
}

/// The `${Name}`s a `!Sub` text substitutes.
fn substitutions(text: &str) -> Vec<&str> {
    text.split("${")
        .skip(1)
        .filter(|part| !part.starts_with('!'))
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .collect()
}

/// What the dashboard's `!Sub` names, resolved: a variable of its map to the resources its
/// value refers to (through `!If`), a resource (or `Resource.Attribute`) to itself.
fn dashboard(
    root: &Value,
) -> (
    Value,
    Vec<String>,
    std::collections::HashMap<String, Vec<String>>,
) {
    let dashboards = of_type(root, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let sub = &dashboards[0].1["Properties"]["DashboardBody"]["!Sub"];
    let text = sub[0].as_str().expect("a !Sub text and its variables");
    let body: Value = serde_json::from_str(text).expect("the dashboard body is JSON");
    let mut variables = std::collections::HashMap::new();
    for (name, value) in sub[1].as_object().into_iter().flatten() {
        let targets: Vec<String> = match value.get("!If") {
            Some(branches) => branches
                .as_array()
                .into_iter()
                .flatten()
                .skip(1)
                .filter_map(target)
                .map(str::to_string)
                .collect(),
            None => target(value).into_iter().map(str::to_string).collect(),
        };
        variables.insert(name.clone(), targets);
    }
    let names = substitutions(text)
        .into_iter()
        .map(str::to_string)
        .collect();
    (body, names, variables)
}

/// #22 item 3: the dashboard draws every Kafka mapping's lag, the stream's iterator age, the
/// HTTP API's requests per route, and only this stack's own metrics; everything it substitutes
/// exists (a typo is a dashboard line with no data, and nothing says so).
#[test]
fn the_dashboard_shows_every_mapping_and_only_this_stacks_metrics() {
    let template = Template::workspace().unwrap();
    let root = &template.root;
    let (body, names, variables) = dashboard(root);
    let resources = root["Resources"].as_object().unwrap();
    for name in &names {
        let known = name.starts_with("AWS::")
            || variables.contains_key(name)
            || resources.contains_key(name.split('.').next().unwrap());
        assert!(
            known,
            "the dashboard substitutes ${{{name}}}, which nothing declares"
        );
        // A conditional resource named directly breaks the deploy when its condition is false.
        if let Some(resource) = resources.get(name.split('.').next().unwrap()) {
            assert!(
                resource.get("Condition").is_none(),
                "{name} is conditional: name it through an !If variable"
            );
        }
    }
    let metrics: Vec<&Value> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["properties"]["metrics"].as_array().into_iter().flatten())
        .collect();
    // Every row, with "." and "..." read as the row before it says.
    let mut rows: Vec<Vec<String>> = Vec::new();
    for row in &metrics {
        let cells: Vec<&Value> = row.as_array().unwrap().iter().collect();
        let mut out: Vec<String> = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            match cell.as_str() {
                Some("...") => {
                    let previous = rows.last().cloned().unwrap_or_default();
                    let rest = cells[i + 1..].iter().filter(|c| c.is_string()).count();
                    let kept = previous.len().saturating_sub(rest);
                    out.extend(previous.into_iter().take(kept));
                }
                Some(".") => out.push(rows.last().unwrap()[out.len()].clone()),
                Some(s) => out.push(s.to_string()),
                None if cell["expression"].is_string() => {
                    out.push(cell["expression"].as_str().unwrap().to_string())
                }
                None => {}
            }
        }
        rows.push(out);
    }
    let drawn = |namespace: &str, metric: &str, dimension: &str, value: &str| {
        rows.iter().any(|r| {
            r.first().map(String::as_str) == Some(namespace)
                && r.get(1).map(String::as_str) == Some(metric)
                && r.windows(2).any(|w| w[0] == dimension && w[1] == value)
        })
    };
    let refers_to = |variable: &str, id: &str| {
        variable
            .strip_prefix("${")
            .and_then(|v| v.strip_suffix('}'))
            .is_some_and(|v| v == id || variables.get(v).is_some_and(|t| t.iter().any(|t| t == id)))
    };
    for (id, function) in of_type(root, "AWS::Serverless::Function") {
        for (event, e) in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
        {
            match e["Type"].as_str().unwrap_or_default() {
                "MSK" => {
                    let mapping = format!("{id}{event}");
                    let lag = rows.iter().any(|r| {
                        r.first().map(String::as_str) == Some("AWS/Lambda")
                            && r.get(1).map(String::as_str) == Some("OffsetLag")
                            && r.windows(2).any(|w| {
                                w[0] == "EventSourceMappingUUID" && refers_to(&w[1], &mapping)
                            })
                    });
                    assert!(lag, "the dashboard has no OffsetLag line for {mapping}");
                }
                "DynamoDB" => assert!(
                    drawn(
                        "AWS/Lambda",
                        "IteratorAge",
                        "FunctionName",
                        &format!("${{{id}}}")
                    ),
                    "the dashboard has no IteratorAge line for {id}"
                ),
                _ => {}
            }
        }
    }
    let searches: Vec<&String> = rows
        .iter()
        .flatten()
        .filter(|c| c.starts_with("SEARCH("))
        .collect();
    assert!(
        searches.iter().any(
            |s| s.contains("{AWS/ApiGateway,ApiId,Method,Resource,Stage}")
                && s.contains("ApiId=\"${TodoApi}\"")
        ),
        "requests per route"
    );
    for search in &searches {
        if search.contains("{ServerlessTodo,") {
            assert!(
                search.contains("Stack=\"${AWS::StackName}\""),
                "a search of the stack's metrics without its Stack: {search}"
            );
        }
    }
    for row in rows
        .iter()
        .filter(|r| r.first().map(String::as_str) == Some("ServerlessTodo"))
    {
        assert!(
            row.windows(2)
                .any(|w| w[0] == "Stack" && w[1] == "${AWS::StackName}"),
            "a line of the stack's metrics without its Stack: {row:?}"
        );
    }
    // Per-route metrics are published only when the stage asks for them.
    let settings = &root["Resources"]["TodoApi"]["Properties"]["DefaultRouteSettings"];
    assert!(
        settings["DetailedMetricsEnabled"]["!If"].is_array(),
        "{settings}"
    );
}
