//! The one builder of update and condition expressions every store writes with, so attribute
//! names never collide with DynamoDB's reserved words (or hold characters an expression cannot:
//! a delivery's `dlv#<channel>#<destination>`) and each write states its checks in one place.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// An update expression with its condition, names and values.
#[derive(Debug, Default)]
pub struct Expr {
    sets: Vec<String>,
    removes: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The placeholder for an attribute name: `#<name>` when the name can be one, a numbered
    /// `#n<i>` otherwise; the same name always gets the same placeholder.
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, name)| *name == attr) {
            return placeholder.clone();
        }
        let plain =
            !attr.is_empty() && attr.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let mut placeholder = if plain {
            format!("#{attr}")
        } else {
            format!("#n{}", self.names.len())
        };
        while self.names.contains_key(&placeholder) {
            placeholder.push('_');
        }
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }

    /// A placeholder for a value.
    pub fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v);
        placeholder
    }

    /// Sets (`Some`) or removes (`None`) each attribute.
    pub fn apply<N: AsRef<str>>(
        &mut self,
        attrs: impl IntoIterator<Item = (N, Option<AttributeValue>)>,
    ) {
        for (attr, value) in attrs {
            let name = self.name(attr.as_ref());
            match value {
                Some(v) => {
                    let v = self.value(v);
                    self.sets.push(format!("{name} = {v}"));
                }
                None => self.removes.push(name),
            }
        }
    }

    /// Sets one attribute.
    pub fn set(&mut self, attr: &str, value: AttributeValue) {
        self.apply([(attr, Some(value))]);
    }

    /// Adds a raw `SET` clause, for arithmetic and `if_not_exists`.
    pub fn set_raw(&mut self, clause: String) {
        self.sets.push(clause);
    }

    /// `version = version + 1`.
    pub fn bump_version(&mut self) {
        let version = self.name("version");
        let one = self.value(AttributeValue::N("1".to_string()));
        self.set_raw(format!("{version} = {version} + {one}"));
    }

    /// Adds a condition; all conditions must hold.
    pub fn condition(&mut self, cond: String) {
        self.conditions.push(cond);
    }

    /// Requires the item to exist.
    pub fn require_exists(&mut self) {
        let pk = self.name("pk");
        self.condition(format!("attribute_exists({pk})"));
    }

    /// Requires a string attribute to equal `value`.
    pub fn require_eq(&mut self, attr: &str, value: AttributeValue) {
        let name = self.name(attr);
        let v = self.value(value);
        self.condition(format!("{name} = {v}"));
    }

    /// Requires an attribute to sort before `value` (instants: fixed-width text sorts as time).
    pub fn require_before(&mut self, attr: &str, value: AttributeValue) {
        let name = self.name(attr);
        let v = self.value(value);
        self.condition(format!("{name} < {v}"));
    }

    /// Requires an attribute to be absent.
    pub fn require_absent(&mut self, attr: &str) {
        let name = self.name(attr);
        self.condition(format!("attribute_not_exists({name})"));
    }

    /// The `SET ... REMOVE ...` expression.
    pub fn update_expression(&self) -> String {
        let mut out = String::new();
        if !self.sets.is_empty() {
            out.push_str("SET ");
            out.push_str(&self.sets.join(", "));
        }
        if !self.removes.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("REMOVE ");
            out.push_str(&self.removes.join(", "));
        }
        out
    }

    /// The condition expression, if any condition was added.
    pub fn condition_expression(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }

    /// Names for `ExpressionAttributeNames`.
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// Values for `ExpressionAttributeValues`.
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_set_remove_and_conditions() {
        let mut e = Expr::default();
        e.apply(vec![
            ("title", Some(AttributeValue::S("x".into()))),
            ("notes", None),
        ]);
        e.require_exists();
        e.require_eq("version", AttributeValue::N("3".into()));
        assert_eq!(e.update_expression(), "SET #title = :v0 REMOVE #notes");
        assert_eq!(
            e.condition_expression().unwrap(),
            "attribute_exists(#pk) AND #version = :v1"
        );
        assert_eq!(e.names().unwrap()["#notes"], "notes");
    }

    #[test]
    fn names_that_cannot_be_placeholders_are_numbered() {
        let mut e = Expr::default();
        e.set("dlv#in_app#inbox", AttributeValue::Bool(true));
        e.set("n0", AttributeValue::Bool(true));
        assert_eq!(e.update_expression(), "SET #n0 = :v0, #n0_ = :v1");
        assert_eq!(e.names().unwrap()["#n0"], "dlv#in_app#inbox");
        assert_eq!(e.names().unwrap()["#n0_"], "n0");
        assert_eq!(
            e.name("dlv#in_app#inbox"),
            "#n0",
            "a name keeps its placeholder"
        );
    }
}
