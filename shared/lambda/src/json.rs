//! JSON bodies read strictly: an object that names a key twice is refused.
//!
//! RFC 8259 leaves duplicate names to the parser ("the behavior of software that receives such
//! an object is unpredictable"); serde_json keeps the last one, a proxy or another language's
//! parser may keep the first. A body two readers can understand differently is ambiguous, so the
//! edge refuses it instead of guessing.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON value, failing on a key repeated within any object.
pub fn parse_unique_keys(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Unique>(bytes).map(|u| u.0)
}

struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(A::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for body in [
            r#"{"title":"a","title":"b"}"#,
            r#"{"due":{"at":"2026-01-01T00:00:00Z","tz":"UTC","tz":"Europe/Berlin"}}"#,
            r#"{"reminders":[{"at":"x"},{"before_due_minutes":1,"before_due_minutes":2}]}"#,
        ] {
            let err = parse_unique_keys(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("appears twice"), "{body}: {err}");
        }
    }

    #[test]
    fn distinct_keys_parse_as_serde_json_would() {
        let body = r#"{"a":[1,-2,3.5,"x",null,true,{"a":{}}],"b":{"a":1}}"#;
        assert_eq!(
            parse_unique_keys(body.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(body).unwrap()
        );
        assert!(parse_unique_keys(b"{\"a\":1} trailing").is_err());
    }
}
