//! `output:` on shell and headless agent steps (control.md §7): the step's answer is one JSON
//! value, optionally checked against a JSON Schema (draft 2020-12), and its capture holds that
//! value.
//!
//! The loader reads the key ([`Analyzer::output`]): `output: json`, `output: {schema: {...}}` or
//! `output: {schema_file: path}` (relative to the workflow file). A schema is compiled once, at
//! load time, so a schema that is not valid JSON Schema is the validation error `output-schema`;
//! the executors keep the compiled [`OutputSchema`] and call [`OutputSchema::check`].

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::fields::{MapReader, Target};
use super::loader::Analyzer;
use super::yaml::{Node, quote_short};

/// The keys of `output:` in its mapping form.
pub const OUTPUT_KEYS: &[&str] = &["schema", "schema_file"];

/// What a step's `output:` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// `None` for `output: json` (any valid JSON).
    pub schema: Option<OutputSchema>,
}

/// A compiled JSON Schema, with the schema as written (for the CLIs' native options).
#[derive(Clone)]
pub struct OutputSchema {
    value: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
}

/// One way a value does not match its schema (also the `errors` of the `output_repair` event).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SchemaError {
    /// The JSON pointer of the offending part of the value (`/issues/0`); empty for the root.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// The errors of one check, joined for a message: `/verdict: … ; /issues: …`.
pub fn describe_errors(errors: &[SchemaError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// At most this many errors of one value are reported.
const MAX_ERRORS: usize = 20;

impl OutputSchema {
    /// Compiles `schema` as JSON Schema draft 2020-12; the error says why it is not valid.
    pub fn compile(schema: Value) -> Result<Self, String> {
        let validator = jsonschema::draft202012::new(&schema).map_err(|err| {
            let pointer = err.instance_path().to_string();
            if pointer.is_empty() {
                err.to_string()
            } else {
                format!("at {pointer}: {err}")
            }
        })?;
        Ok(OutputSchema {
            value: Arc::new(schema),
            validator: Arc::new(validator),
        })
    }

    /// The schema as written.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Checks `instance`: empty when it matches, otherwise each error with its JSON pointer.
    pub fn check(&self, instance: &Value) -> Vec<SchemaError> {
        self.validator
            .iter_errors(instance)
            .take(MAX_ERRORS)
            .map(|err| SchemaError {
                pointer: err.instance_path().to_string(),
                message: err.to_string(),
            })
            .collect()
    }
}

impl fmt::Debug for OutputSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OutputSchema").field(&self.value).finish()
    }
}

impl PartialEq for OutputSchema {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// Where `schema` breaks what codex's `--output-schema` accepts (its strict mode): every object
/// schema must say `additionalProperties: false` and list every property in `required`. Each
/// problem is the JSON pointer of the subschema (in the schema, empty for the root) and what is
/// missing there.
pub fn codex_strict_problems(schema: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    strict_walk(schema, String::new(), &mut problems);
    problems
}

fn strict_walk(schema: &Value, pointer: String, problems: &mut Vec<(String, String)>) {
    let Value::Object(map) = schema else { return };
    let properties = map.get("properties").and_then(Value::as_object);
    let is_object = map.get("type").is_some_and(|t| {
        t == "object"
            || t.as_array()
                .is_some_and(|a| a.iter().any(|t| t == "object"))
    }) || properties.is_some();
    if is_object {
        if map.get("additionalProperties") != Some(&Value::Bool(false)) {
            problems.push((
                pointer.clone(),
                "\"additionalProperties\" must be false".to_owned(),
            ));
        }
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let missing: Vec<&str> = properties
            .into_iter()
            .flat_map(|p| p.keys())
            .map(String::as_str)
            .filter(|name| !required.contains(name))
            .collect();
        if !missing.is_empty() {
            problems.push((
                pointer.clone(),
                format!(
                    "\"required\" must list every property; missing: {}",
                    missing.join(", ")
                ),
            ));
        }
    }
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    for (key, value) in map {
        let at = format!("{pointer}/{}", escape(key));
        match key.as_str() {
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                if let Value::Object(children) = value {
                    for (name, child) in children {
                        strict_walk(child, format!("{at}/{}", escape(name)), problems);
                    }
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(children) = value {
                    for (i, child) in children.iter().enumerate() {
                        strict_walk(child, format!("{at}/{i}"), problems);
                    }
                }
            }
            "items" | "additionalProperties" | "not" => strict_walk(value, at, problems),
            _ => {}
        }
    }
}

impl Analyzer<'_> {
    /// The step's `output:`, if it has one; `Err(())` when it is present but wrong (reported).
    pub(crate) fn output(&mut self, r: &MapReader<'_, '_>) -> Result<Option<OutputSpec>, ()> {
        let Some(node) = r.get("output") else {
            return Ok(None);
        };
        let path = r.path_of("output");
        let entries = match node {
            Node::Str(text) if text == "json" => return Ok(Some(OutputSpec { schema: None })),
            Node::Map(entries) => entries,
            Node::Str(text) => {
                self.sink.error(
                    "invalid-value",
                    format!(
                        "invalid output {}: use \"json\", {{schema: …}} or {{schema_file: …}}",
                        quote_short(text)
                    ),
                    path,
                    Target::Value,
                );
                return Err(());
            }
            other => {
                self.sink.wrong_type(
                    "output",
                    "\"json\" or a mapping with \"schema\" or \"schema_file\"",
                    other,
                    path,
                );
                return Err(());
            }
        };
        let o = MapReader::new(entries, path);
        o.check_keys(OUTPUT_KEYS, &mut self.sink);
        let schema = match (o.get("schema"), o.string("schema_file", &mut self.sink)) {
            (Some(_), Some(_)) => {
                self.sink.error(
                    "output-schema",
                    "\"output\" takes \"schema\" or \"schema_file\", not both".to_owned(),
                    o.path_of("schema_file"),
                    Target::Key,
                );
                return Err(());
            }
            (Some(schema), None) => schema.to_json(),
            (None, Some(file)) => self.schema_file(file, &o)?,
            (None, None) => {
                if !o.has("schema_file") {
                    self.sink.error(
                        "output-schema",
                        "\"output\" needs \"schema\" (a JSON Schema) or \"schema_file\" (a path)"
                            .to_owned(),
                        path,
                        Target::Value,
                    );
                }
                return Err(());
            }
        };
        let at = o.path_of(if o.has("schema") {
            "schema"
        } else {
            "schema_file"
        });
        match OutputSchema::compile(schema) {
            Ok(schema) => Ok(Some(OutputSpec {
                schema: Some(schema),
            })),
            Err(why) => {
                self.sink.error(
                    "output-schema",
                    format!("the output schema is not a valid JSON Schema (draft 2020-12): {why}"),
                    at,
                    Target::Value,
                );
                Err(())
            }
        }
    }

    /// The warning `codex-schema` when a codex step's schema is one codex's strict
    /// `--output-schema` refuses (the run would fail at the first try).
    pub(crate) fn codex_strict(&mut self, spec: &OutputSpec, r: &MapReader<'_, '_>) {
        let Some(schema) = &spec.schema else { return };
        let problems = codex_strict_problems(schema.value());
        let Some((pointer, what)) = problems.first() else {
            return;
        };
        let Some(Node::Map(entries)) = r.get("output") else {
            return;
        };
        let o = MapReader::new(entries, r.path_of("output"));
        let key = if o.has("schema") {
            "schema"
        } else {
            "schema_file"
        };
        let at = if pointer.is_empty() {
            "its root".to_owned()
        } else {
            pointer.clone()
        };
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        self.sink.warning_help(
            "codex-schema",
            format!(
                "codex's --output-schema is strict and refuses this schema: at {at}, {what}{more}"
            ),
            "in every object of the schema, set \"additionalProperties: false\" and list every property in \"required\" (make a field optional by allowing null in its type)".to_owned(),
            o.path_of(key),
            Target::Key,
        );
    }

    /// Reads `schema_file` (relative to the workflow file) as JSON, or YAML for `.yaml`/`.yml`.
    fn schema_file(&mut self, file: &str, o: &MapReader<'_, '_>) -> Result<Value, ()> {
        let at = o.path_of("schema_file");
        let Some(dir) = self.dir else {
            self.sink.error(
                "output-schema",
                "\"schema_file\" needs a workflow file on disk; write the schema inline with \"schema\""
                    .to_owned(),
                at,
                Target::Value,
            );
            return Err(());
        };
        let path = dir.join(file);
        let parsed = super::loader::read_limited(&path).and_then(|bytes| {
            let yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            if yaml {
                let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
                super::yaml::parse(&text)
                    .map(|node| node.to_json())
                    .map_err(|e| e.message)
            } else {
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())
            }
        });
        parsed.map_err(|why| {
            self.sink.error(
                "output-schema",
                format!("cannot read schema_file {}: {why}", quote_short(file)),
                at,
                Target::Value,
            );
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_values_and_reports_pointers() {
        let schema = OutputSchema::compile(json!({
            "type": "object",
            "required": ["verdict", "issues"],
            "properties": {
                "verdict": {"enum": ["pass", "fail"]},
                "issues": {"type": "array", "items": {"type": "string"}}
            }
        }))
        .unwrap();
        assert!(
            schema
                .check(&json!({"verdict": "pass", "issues": []}))
                .is_empty()
        );
        let errors = schema.check(&json!({"verdict": "maybe", "issues": [1]}));
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/verdict", "/issues/0"], "{errors:?}");
        let missing = schema.check(&json!({}));
        assert_eq!(missing[0].pointer, "");
        assert!(
            missing[0].to_string().starts_with("(root): "),
            "{missing:?}"
        );
    }

    #[test]
    fn codex_strictness_is_checked_in_every_object() {
        let strict = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["verdict", "issues"],
            "properties": {
                "verdict": {"enum": ["pass", "fail"]},
                "issues": {"type": "array", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["file"], "properties": {"file": {"type": "string"}}
                }}
            }
        });
        assert!(codex_strict_problems(&strict).is_empty());
        let loose = json!({
            "type": "object",
            "required": ["verdict"],
            "properties": {
                "verdict": {"enum": ["pass", "fail"]},
                "issues": {"type": "array", "items": {"properties": {"a/b": {"type": "object"}}}}
            }
        });
        let problems = codex_strict_problems(&loose);
        let pointers: Vec<_> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "",
                "",
                "/properties/issues/items",
                "/properties/issues/items",
                "/properties/issues/items/properties/a~1b",
            ],
            "{problems:?}"
        );
        assert_eq!(
            problems[1].1,
            "\"required\" must list every property; missing: issues"
        );
        assert!(codex_strict_problems(&json!({"type": "string"})).is_empty());
    }

    #[test]
    fn an_invalid_schema_does_not_compile() {
        assert!(OutputSchema::compile(json!({"type": "objekt"})).is_err());
        assert!(OutputSchema::compile(json!({"minimum": "five"})).is_err());
        assert!(OutputSchema::compile(json!(true)).is_ok());
    }
}
