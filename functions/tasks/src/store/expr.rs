//! A small builder for update and condition expressions, so attribute names never collide with
//! DynamoDB's reserved words and each write states its checks in one place.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::Attr;

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
    /// The placeholder for an attribute name.
    pub fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
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
    pub fn apply(&mut self, attrs: Vec<Attr>) {
        for (attr, value) in attrs {
            let name = self.name(attr);
            match value {
                Some(v) => {
                    let v = self.value(v);
                    self.sets.push(format!("{name} = {v}"));
                }
                None => self.removes.push(name),
            }
        }
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
}
