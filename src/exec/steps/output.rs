//! Structured outputs at run time (control.md §7): reading a step's answer as one JSON value,
//! checking it against the step's schema, and the `output_invalid` failure.
//!
//! A shell step's whole stdout is the value. An agent's final answer is read by
//! [`last_json_value`]: the last fenced ```json block, or else the last bare object or array in
//! the text (the framing asked for one, but a model may still say something around it).

use serde_json::Value;

use super::super::outcome::{ErrorClass, Failure};
use crate::agents::Completion;
use crate::workflow::output::{OutputSpec, SchemaError, describe_errors};

/// Why an answer is not the value the step asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The text holds no JSON value (the parser's message, or none when nothing was found).
    NotJson(String),
    /// The value does not match the schema.
    Schema(Vec<SchemaError>),
}

impl Invalid {
    /// The errors as one line: what the repair turn tells the agent and the failure shows.
    pub fn describe(&self) -> String {
        match self {
            Invalid::NotJson(why) => why.clone(),
            Invalid::Schema(errors) => describe_errors(errors),
        }
    }

    /// The errors with their JSON pointers, for the `output_repair` event (a text that is not
    /// JSON is one error at the root).
    pub fn errors(&self) -> Vec<SchemaError> {
        match self {
            Invalid::NotJson(why) => vec![SchemaError {
                pointer: String::new(),
                message: format!("not a JSON value: {why}"),
            }],
            Invalid::Schema(errors) => errors.clone(),
        }
    }

    /// The step's failure: class `output_invalid`, naming what was read (`stdout`, `the final
    /// answer`) and every error with its JSON pointer.
    pub fn failure(&self, what: &str) -> Failure {
        let message = match self {
            Invalid::NotJson(why) => format!("{what} is not a JSON value: {why}"),
            Invalid::Schema(errors) => format!(
                "{what} does not match the output schema: {}",
                describe_errors(errors)
            ),
        };
        Failure::new(ErrorClass::OutputInvalid, message)
    }
}

/// Parses a shell step's stdout as one JSON value and checks it.
pub fn from_stdout(stdout: &[u8], spec: &OutputSpec) -> Result<Value, Invalid> {
    let text = String::from_utf8_lossy(stdout);
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|err| Invalid::NotJson(format!("{err}")))?;
    check(spec, value)
}

/// Reads an agent's final answer: the answer itself when it is JSON (a CLI's native structured
/// output, or a reply of only JSON), otherwise the last JSON value in it; then checks it.
pub fn from_answer(answer: &str, spec: &OutputSpec) -> Result<Value, Invalid> {
    let value = last_json_value(answer).ok_or_else(|| {
        Invalid::NotJson(
            "no JSON value found (expected a ```json block or a bare object or array)".to_owned(),
        )
    })?;
    check(spec, value)
}

/// An agent's answer: the CLI's native structured output when it gave one, else the JSON value
/// in its final text.
pub fn from_completion(completion: &Completion, spec: &OutputSpec) -> Result<Value, Invalid> {
    match &completion.structured {
        Some(value) => check(spec, value.clone()),
        None => from_answer(completion.final_text.as_deref().unwrap_or(""), spec),
    }
}

/// `value` when it matches the step's schema (any value when there is none).
pub fn check(spec: &OutputSpec, value: Value) -> Result<Value, Invalid> {
    match &spec.schema {
        Some(schema) => {
            let errors = schema.check(&value);
            if errors.is_empty() {
                Ok(value)
            } else {
                Err(Invalid::Schema(errors))
            }
        }
        None => Ok(value),
    }
}

/// The JSON value an answer gives: the whole (trimmed) text if it parses; else the last fenced
/// ```json (or bare ```) block that parses; else the last bare object or array that parses.
pub fn last_json_value(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(value) = serde_json::from_str(trimmed) {
        return Some(value);
    }
    if let Some(value) = fenced_blocks(text)
        .into_iter()
        .rev()
        .find_map(|block| serde_json::from_str(block.trim()).ok())
    {
        return Some(value);
    }
    last_bare_value(text)
}

/// The bodies of the fenced code blocks tagged `json` (or untagged), in order.
fn fenced_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let Some(line_end) = after.find('\n') else {
            break;
        };
        let tag = after[..line_end].trim();
        let body = &after[line_end + 1..];
        let Some(close) = body.find("```") else {
            break;
        };
        if tag.is_empty() || tag.eq_ignore_ascii_case("json") {
            blocks.push(&body[..close]);
        }
        rest = &body[close + 3..];
    }
    blocks
}

/// The last `{…}` or `[…]` in `text` that parses as JSON, trying each opening bracket from the
/// end; a parse stops at the end of the first complete value.
fn last_bare_value(text: &str) -> Option<Value> {
    let starts = text
        .char_indices()
        .filter(|(_, c)| matches!(c, '{' | '['))
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    // The outermost candidate that ends the text wins over values nested in it, so look for a
    // start whose value is followed only by whitespace or closing prose first.
    let mut best: Option<(usize, Value)> = None;
    for &start in &starts {
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next() {
            let end = start + stream.byte_offset();
            if value.is_object() || value.is_array() {
                // A later value that is not inside this one replaces it.
                match &best {
                    Some((best_end, _)) if start < *best_end => {}
                    _ => best = Some((end, value)),
                }
            }
        }
    }
    best.map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_answer_in_text() {
        assert_eq!(last_json_value(r#"{"a": 1}"#), Some(json!({"a": 1})));
        assert_eq!(last_json_value(" [1, 2]\n"), Some(json!([1, 2])));
        assert_eq!(last_json_value("42"), Some(json!(42)));
        let fenced =
            "First try:\n```json\n{\"v\": 1}\n```\nBetter:\n```json\n{\"v\": 2}\n```\nDone.";
        assert_eq!(last_json_value(fenced), Some(json!({"v": 2})));
        let bare = "Here it is: {\"verdict\": \"pass\", \"issues\": [\"a\"]} as asked.";
        assert_eq!(
            last_json_value(bare),
            Some(json!({"verdict": "pass", "issues": ["a"]}))
        );
        let two = "old {\"v\": 1} then new {\"v\": [2]}";
        assert_eq!(last_json_value(two), Some(json!({"v": [2]})));
        assert_eq!(last_json_value("no json {here"), None);
        assert_eq!(last_json_value(""), None);
    }

    #[test]
    fn shell_stdout_must_be_one_value() {
        let any = OutputSpec { schema: None };
        assert_eq!(from_stdout(b" 3\n", &any), Ok(json!(3)));
        assert!(matches!(
            from_stdout(b"{\"a\": 1} trailing", &any),
            Err(Invalid::NotJson(_))
        ));
        let failure = from_stdout(b"", &any).unwrap_err().failure("stdout");
        assert_eq!(failure.class, ErrorClass::OutputInvalid);
        assert!(failure.message.starts_with("stdout is not a JSON value: "));
    }
}
