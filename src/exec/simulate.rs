//! `--simulate` (control.md §10, §11 "Simulation, precisely"): the stubs that answer shell and
//! agent steps instead of running them, read from `--stub <step-path>=<value>` and
//! `--stub-file F`, and the minimal value that satisfies an output schema.
//!
//! A stub key is a step path as the audit log writes it (`each[2]/t`), optionally with
//! `@<attempt>`, or a plain step id, which matches every occurrence; `<path>#skip_if` answers a
//! `skip_if: sh:` condition instead of the step. The most specific key wins: path with attempt,
//! then path, then id. A stub-file entry is a value, or a mapping with `value`, `exit_code` and
//! `class`. A step without a stub answers `ok` (or the minimal value of its schema) with exit 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::outcome::ErrorClass;
use crate::workflow::yaml::{self, Node};

/// A running simulation: its stubs and the temporary state directory, removed when dropped.
pub struct Simulation {
    pub stubs: Arc<Stubs>,
    dir: PathBuf,
}

impl Simulation {
    /// Reads the stubs (a bad stub is a usage error, exit 2) and creates the state directory.
    pub fn start(request: &crate::cli::Simulation) -> Result<Simulation, super::error::RunError> {
        let stubs = Stubs::read(&request.stubs, request.stub_file.as_deref())
            .map_err(super::error::RunError::Stubs)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "agent-runner-simulate-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(super::error::RunError::SimulationDir)?;
        Ok(Simulation {
            stubs: Arc::new(stubs),
            dir,
        })
    }

    /// Where the simulated run keeps its state.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a stub says a step did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// The output: text as a JSON string, or a JSON value (from a stub file's mapping).
    pub value: Option<Value>,
    pub exit_code: Option<i32>,
    pub class: Option<ErrorClass>,
}

/// Where a stub applies.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    path: String,
    attempt: Option<u32>,
    skip_if: bool,
}

/// Every stub of a simulation.
#[derive(Debug, Clone, Default)]
pub struct Stubs {
    entries: Vec<(Key, Answer)>,
}

impl Key {
    /// `path[@attempt][#skip_if]`.
    fn parse(text: &str) -> Result<Key, String> {
        let text = text.trim();
        let (text, skip_if) = match text.strip_suffix("#skip_if") {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let (path, attempt) = match text.rsplit_once('@') {
            Some((path, n)) => {
                let n = n.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("stub key {text:?}: the attempt after @ must be a number from 1")
                })?;
                (path, Some(n))
            }
            None => (text, None),
        };
        if path.is_empty() {
            return Err(format!("stub key {text:?} names no step"));
        }
        Ok(Key {
            path: path.to_owned(),
            attempt,
            skip_if,
        })
    }
}

impl Stubs {
    /// The stubs of `--stub` arguments (`<key>=<value>`) and a `--stub-file`; a `--stub`
    /// overrides a file entry with the same key.
    pub fn read(args: &[String], file: Option<&Path>) -> Result<Stubs, String> {
        let mut stubs = Stubs::default();
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read the stub file {}: {e}", file.display()))?;
            stubs
                .read_file(&text)
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        for arg in args {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("--stub {arg:?}: write <step-path>=<value>"))?;
            stubs.push(
                Key::parse(key)?,
                Answer {
                    value: Some(Value::String(value.to_owned())),
                    ..Answer::default()
                },
            );
        }
        Ok(stubs)
    }

    fn push(&mut self, key: Key, answer: Answer) {
        self.entries.retain(|(k, _)| *k != key);
        self.entries.push((key, answer));
    }

    fn read_file(&mut self, text: &str) -> Result<(), String> {
        let node = yaml::parse(text).map_err(|e| e.message)?;
        let Some(entries) = node.as_map() else {
            return Err("a stub file is a mapping of step paths or ids to answers".to_owned());
        };
        for (key, value) in entries {
            let answer = match value {
                Node::Map(fields) => {
                    let mut answer = Answer::default();
                    for (field, v) in fields {
                        match field.as_str() {
                            "value" => answer.value = Some(v.to_json()),
                            "exit_code" => {
                                let code = v.scalar_text().and_then(|t| t.parse::<i32>().ok());
                                answer.exit_code = Some(code.ok_or_else(|| {
                                    format!("{key}: exit_code must be a whole number")
                                })?);
                            }
                            "class" => {
                                let name = v.as_str().unwrap_or_default();
                                answer.class = Some(class_named(name).ok_or_else(|| {
                                    format!("{key}: unknown error class {name:?}")
                                })?);
                            }
                            other => {
                                return Err(format!(
                                    "{key}: unknown field {other:?}; use value, exit_code and class"
                                ));
                            }
                        }
                    }
                    answer
                }
                other => Answer {
                    value: Some(match other.scalar_text() {
                        Some(text) => Value::String(text),
                        None => other.to_json(),
                    }),
                    ..Answer::default()
                },
            };
            self.push(Key::parse(key)?, answer);
        }
        Ok(())
    }

    /// The answer for the step at audit `path` (id `id`) on its `attempt`.
    pub fn step(&self, path: &str, id: &str, attempt: u32) -> Option<&Answer> {
        self.find(path, id, attempt, false)
    }

    /// Whether `skip_if: sh:` of the step at `path` skips it: only a stub of exit code 0 does.
    pub fn skips(&self, path: &str, id: &str, attempt: u32) -> bool {
        self.find(path, id, attempt, true).is_some_and(|answer| {
            let code = answer.exit_code.or_else(|| {
                answer
                    .value
                    .as_ref()
                    .and_then(|v| v.as_str().and_then(|t| t.trim().parse().ok()))
            });
            code == Some(0)
        })
    }

    fn find(&self, path: &str, id: &str, attempt: u32, skip_if: bool) -> Option<&Answer> {
        let matching = |wanted_path: &str, wanted_attempt: Option<u32>| {
            self.entries.iter().find(|(k, _)| {
                k.skip_if == skip_if && k.path == wanted_path && k.attempt == wanted_attempt
            })
        };
        matching(path, Some(attempt))
            .or_else(|| matching(path, None))
            .or_else(|| matching(id, Some(attempt)))
            .or_else(|| matching(id, None))
            .map(|(_, answer)| answer)
    }
}

/// The error class spelled `name` (`exit_status`).
fn class_named(name: &str) -> Option<ErrorClass> {
    serde_json::from_value(Value::String(name.to_owned())).ok()
}

/// The smallest value that satisfies `schema`: its first `enum` or `const` value, else `""`,
/// `0`, `false`, `[]`, `null`, or an object with its required properties filled the same way.
pub fn minimal_value(schema: &Value) -> Value {
    if let Some(first) = schema.get("const") {
        return first.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return minimal_value(first);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds.first().and_then(Value::as_str).unwrap_or(""),
        _ if schema.get("properties").is_some() => "object",
        _ => "",
    };
    match kind {
        "object" => {
            let mut object = serde_json::Map::new();
            let required = schema.get("required").and_then(Value::as_array);
            for name in required.into_iter().flatten().filter_map(Value::as_str) {
                let property = schema
                    .get("properties")
                    .and_then(|p| p.get(name))
                    .unwrap_or(&Value::Null);
                object.insert(name.to_owned(), minimal_value(property));
            }
            Value::Object(object)
        }
        "array" => Value::Array(Vec::new()),
        "integer" | "number" => {
            let minimum = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            Value::from(minimum.max(0))
        }
        "boolean" => Value::Bool(false),
        "null" => Value::Null,
        _ => Value::String(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_most_specific_key_wins() {
        let stubs = Stubs::read(
            &[
                "t=by-id".to_owned(),
                "each[2]/t=by-path".to_owned(),
                "each[2]/t@2=second-try".to_owned(),
                "each[2]/t#skip_if=0".to_owned(),
            ],
            None,
        )
        .unwrap();
        let value =
            |path: &str, attempt| stubs.step(path, "t", attempt).and_then(|a| a.value.clone());
        assert_eq!(value("each[2]/t", 2), Some(json!("second-try")));
        assert_eq!(value("each[2]/t", 1), Some(json!("by-path")));
        assert_eq!(value("each[0]/t", 1), Some(json!("by-id")));
        assert!(stubs.skips("each[2]/t", "t", 1));
        assert!(!stubs.skips("each[0]/t", "t", 1));
    }

    #[test]
    fn a_stub_file_gives_values_exit_codes_and_classes() {
        let mut stubs = Stubs::default();
        stubs
            .read_file("review:\n  value: {verdict: pass, issues: []}\ntests: {exit_code: 3, class: exit_status}\nplain: hello\n")
            .unwrap();
        let review = stubs.step("review", "review", 1).unwrap();
        assert_eq!(review.value, Some(json!({"verdict": "pass", "issues": []})));
        let tests = stubs.step("tests", "tests", 1).unwrap();
        assert_eq!(
            (tests.exit_code, tests.class),
            (Some(3), Some(ErrorClass::ExitStatus))
        );
        assert_eq!(
            stubs.step("plain", "plain", 1).unwrap().value,
            Some(json!("hello"))
        );
        assert!(Stubs::default().read_file("x: {exit: 1}").is_err());
    }

    #[test]
    fn the_minimal_value_satisfies_the_schema() {
        let schema = json!({
            "type": "object",
            "required": ["verdict", "issues", "score", "ok", "meta"],
            "properties": {
                "verdict": {"enum": ["pass", "fail"]},
                "issues": {"type": "array", "items": {"type": "string"}},
                "score": {"type": "integer", "minimum": 1},
                "ok": {"type": "boolean"},
                "meta": {"type": "object", "required": ["by"], "properties": {"by": {"type": "string"}}},
                "optional": {"type": "string"}
            }
        });
        assert_eq!(
            minimal_value(&schema),
            json!({"verdict": "pass", "issues": [], "score": 1, "ok": false, "meta": {"by": ""}})
        );
        assert_eq!(minimal_value(&json!({"const": 7})), json!(7));
    }
}
