//! `docs/openapi.yaml` and the template agree on the HTTP API: every route the template deploys
//! is documented, and every documented operation is deployed (issue #9).

use std::collections::BTreeSet;

use serde_json::Value;
use todo_local::template::Template;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn documented() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .expect("docs/openapi.yaml");
    let doc: Value = serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml is YAML");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn deployed() -> BTreeSet<(String, String)> {
    Template::workspace()
        .expect("template.yaml")
        .http_routes()
        .into_iter()
        .map(|r| (r.method.to_uppercase(), r.path))
        .collect()
}

#[test]
fn the_contract_and_the_template_have_the_same_routes() {
    let (documented, deployed) = (documented(), deployed());
    let undocumented: Vec<_> = deployed.difference(&documented).collect();
    let undeployed: Vec<_> = documented.difference(&deployed).collect();
    assert!(
        undocumented.is_empty(),
        "deployed but not in docs/openapi.yaml: {undocumented:?}"
    );
    assert!(
        undeployed.is_empty(),
        "in docs/openapi.yaml but not deployed: {undeployed:?}"
    );
    assert_eq!(deployed.len(), 23);
}

#[test]
fn every_operation_names_its_id_and_answers_401() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .unwrap();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(
                !op["responses"]["401"].is_null(),
                "{method} {path}: the authorizer's 401"
            );
        }
    }
}
