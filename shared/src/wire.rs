//! Field rules the derived `Deserialize` does not have, shared by the request bodies.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A nested object that must be written as a JSON object. A derived struct also takes a JSON
/// array of its fields in order (`["22:00", "07:00", "UTC"]`), a second spelling the contract
/// does not have; this refuses it, keeping the field path of any error inside.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct ObjectOnly<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(ObjectOnly(PhantomData))
}

/// A field that may be left out but, when given, must be a value (not `null`: one spelling of
/// "none").
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// [`present`], and an object (see [`object`]).
pub fn present_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    object(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u8,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Outer {
        #[serde(deserialize_with = "object")]
        inner: Inner,
        #[serde(default, deserialize_with = "present_object")]
        maybe: Option<Inner>,
    }

    #[test]
    fn objects_only_and_null_is_not_none() {
        let ok: Outer = serde_json::from_str(r#"{"inner": {"a": 1}, "maybe": {"a": 2}}"#).unwrap();
        assert_eq!(ok.maybe, Some(Inner { a: 2 }));
        let left_out: Outer = serde_json::from_str(r#"{"inner": {"a": 1}}"#).unwrap();
        assert_eq!(left_out.maybe, None);
        for bad in [
            r#"{"inner": [1]}"#,
            r#"{"inner": {"a": 1}, "maybe": [2]}"#,
            r#"{"inner": {"a": 1}, "maybe": null}"#,
            r#"{"inner": {"a": 1, "b": 2}}"#,
        ] {
            assert!(serde_json::from_str::<Outer>(bad).is_err(), "{bad}");
        }
        let path = serde_path_to_error::deserialize::<_, Outer>(
            &mut serde_json::Deserializer::from_str(r#"{"inner": {"a": "x"}}"#),
        )
        .unwrap_err();
        assert_eq!(
            path.path().to_string(),
            "inner.a",
            "the path inside is kept"
        );
    }
}
