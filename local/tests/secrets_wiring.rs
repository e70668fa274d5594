//! Issue #8 item 4: no secret in a plain parameter or a console-visible variable. A secret
//! reaches a function only as the ARN of a Secrets Manager secret (`*_SECRET_ARN`), and the
//! function's role may read exactly that secret.

use serde_json::Value;
use todo_local::template::Template;

/// Environment variable names that would carry a secret's value.
fn looks_secret(name: &str) -> bool {
    ["SECRET", "PASSWORD", "SIGNING_KEY", "TOKEN", "CREDENTIAL"]
        .iter()
        .any(|w| name.contains(w))
        && !name.ends_with("_SECRET_ARN")
}

fn problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (name, p) in template["Parameters"].as_object().into_iter().flatten() {
        if p["NoEcho"] == true {
            found.push(format!("parameter {name} is a secret (NoEcho)"));
        }
    }
    for (id, r) in template["Resources"].as_object().into_iter().flatten() {
        if r["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let policies = r["Properties"]["Policies"].to_string();
        for (var, value) in r["Properties"]["Environment"]["Variables"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if looks_secret(var) {
                found.push(format!("{id}: {var} carries a secret's value"));
            }
            if var.ends_with("_SECRET_ARN") {
                let secret = value["!Ref"].as_str().unwrap_or_default();
                if secret.is_empty() || !policies.contains(&format!("\"{secret}\"")) {
                    found.push(format!(
                        "{id}: may not read the secret {var} names ({value})"
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn secrets_reach_functions_only_as_arns_they_may_read() {
    let template = Template::workspace().expect("template.yaml");
    assert_eq!(problems(&template.root), Vec::<String>::new());
}

#[test]
fn the_check_catches_a_secret_in_a_parameter_or_a_variable() {
    let mut template = Template::workspace().expect("template.yaml").root;
    template["Parameters"]["WebhookSecret"] = serde_json::json!({"Type": "String", "NoEcho": true});
    template["Resources"]["WebhookChannelFunction"]["Properties"]["Environment"]["Variables"]["WEBHOOK_SECRET"] =
        serde_json::json!({"!Ref": "WebhookSecret"});
    template["Resources"]["ListTasksFunction"]["Properties"]["Policies"] = serde_json::json!([]);
    let found = problems(&template);
    assert!(
        found.iter().any(|p| p.contains("parameter WebhookSecret")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("WEBHOOK_SECRET carries")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("ListTasksFunction: may not read")),
        "{found:?}"
    );
}
