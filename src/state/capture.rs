//! The value of one capture: text, or a JSON value (control.md §7, typed captures).
//!
//! A step with `output:` captures the JSON value it produced; every other capture is text. In
//! state.json text stays a plain string and a JSON value is written as `{"json": <value>}`, so a
//! resumed run gets back exactly the type it stored (and a file with such a capture carries
//! `format_version: 2`, see [`super::StateDoc::uses_second_release_fields`]).
//!
//! Templates and `AR_*` read a capture through [`CaptureValue::text`]: a JSON string is its own
//! text, any other JSON value its compact JSON. Conditions read it through
//! [`CaptureValue::json`], the one accessor for a capture's JSON value.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The captures of a scope, sorted by name so files are stable.
pub type Captures = BTreeMap<String, CaptureValue>;

/// What a capture holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureValue {
    /// Captured output as text (every capture without `output:`).
    Text(String),
    /// The JSON value of a step with `output:`.
    Json(Value),
}

impl CaptureValue {
    /// The text a template or `AR_<NAME>` gets: the text itself, a JSON string's contents, or
    /// the compact JSON of any other value.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            CaptureValue::Text(text) => Cow::Borrowed(text),
            CaptureValue::Json(value) => json_text(value),
        }
    }

    /// The capture as a JSON value: a text capture is a JSON string.
    pub fn json(&self) -> Cow<'_, Value> {
        match self {
            CaptureValue::Text(text) => Cow::Owned(Value::String(text.clone())),
            CaptureValue::Json(value) => Cow::Borrowed(value),
        }
    }

    /// True for a capture made with `output:`.
    pub fn is_json(&self) -> bool {
        matches!(self, CaptureValue::Json(_))
    }
}

impl From<String> for CaptureValue {
    fn from(text: String) -> Self {
        CaptureValue::Text(text)
    }
}

impl From<&str> for CaptureValue {
    fn from(text: &str) -> Self {
        CaptureValue::Text(text.to_owned())
    }
}

/// How a JSON value reads in text: a string is its contents, anything else compact JSON.
pub fn json_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}

/// The key of a JSON capture's wrapper object in state.json.
const JSON_KEY: &str = "json";

impl Serialize for CaptureValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            CaptureValue::Text(text) => serializer.serialize_str(text),
            CaptureValue::Json(value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(JSON_KEY, value)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for CaptureValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(CaptureValue::Text(text)),
            Value::Object(mut object) if object.len() == 1 && object.contains_key(JSON_KEY) => Ok(
                CaptureValue::Json(object.remove(JSON_KEY).unwrap_or(Value::Null)),
            ),
            _ => Err(D::Error::custom(
                "a capture must be a string or {\"json\": <value>}",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_stays_a_string_and_json_is_wrapped() {
        let captures: Captures = [
            ("a".to_owned(), CaptureValue::from("plain")),
            (
                "b".to_owned(),
                CaptureValue::Json(json!({"verdict": "pass", "n": [1, 2]})),
            ),
            ("c".to_owned(), CaptureValue::Json(json!("quoted"))),
        ]
        .into();
        let text = serde_json::to_string(&captures).unwrap();
        assert_eq!(
            text,
            r#"{"a":"plain","b":{"json":{"verdict":"pass","n":[1,2]}},"c":{"json":"quoted"}}"#
        );
        let back: Captures = serde_json::from_str(&text).unwrap();
        assert_eq!(back, captures);
        assert!(serde_json::from_str::<CaptureValue>("3").is_err());
        assert!(serde_json::from_str::<CaptureValue>(r#"{"json": 1, "x": 2}"#).is_err());
    }

    #[test]
    fn text_and_json_views() {
        let object = CaptureValue::Json(json!({"a": "x y", "b": null}));
        assert_eq!(object.text(), r#"{"a":"x y","b":null}"#);
        assert_eq!(CaptureValue::Json(json!("s")).text(), "s");
        assert_eq!(CaptureValue::Json(json!(3)).text(), "3");
        assert_eq!(CaptureValue::from("t").json().as_ref(), &json!("t"));
        assert_eq!(object.json().as_ref(), &json!({"a": "x y", "b": null}));
    }
}
