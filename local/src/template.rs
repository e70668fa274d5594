//! Reading `template.yaml`: the single description of the system, for AWS and for the local
//! cloud alike.

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
    root: Value,
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_yaml_is_an_error() {
        assert!(matches!(
            Template::parse("a: [b"),
            Err(TemplateError::Yaml(_))
        ));
    }
}
