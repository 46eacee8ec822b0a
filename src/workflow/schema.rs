//! The JSON Schema of the workflow format, generated from the loader's own key tables so the two
//! cannot drift apart. `agent-runner schema` prints it; `schema/workflow.schema.json` is the
//! committed copy (a test fails when it is stale).

use serde_json::{Map, Value, json};

use super::loader::{DEFAULTS_KEYS, PARAM_KEYS, SESSION_KEYS, TOP_KEYS};
use super::model::{CLI_NAMES, Effort, Permissions};
use super::steps::{LOOP_KEYS, STEP_KEYS};

const IDENTIFIER: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
const STEP_ID: &str = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$";
/// A duration of control.md §1 (zero is refused by `--validate`), or `none`.
const DURATION_OR_NONE: &str = "^(none|([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$";

/// The schema, pretty-printed with a trailing newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema as a JSON value.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/agent-runner/agent-runner/schema/workflow.schema.json",
        "title": "agent-runner workflow",
        "description": "A YAML workflow of AI coding-agent and shell steps (workflow-format.md).",
        "type": "object",
        "required": ["name", "steps"],
        "additionalProperties": false,
        "properties": with_go_keys(object(TOP_KEYS, top_key)),
        "$defs": {
            "launcher": launcher_def(),
            "param": {
                "oneOf": [
                    {"type": "string", "pattern": IDENTIFIER},
                    {
                        "type": "object",
                        "required": ["name"],
                        "additionalProperties": false,
                        "properties": object(PARAM_KEYS, param_key),
                    }
                ]
            },
            "session": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": object(SESSION_KEYS, |key| match key {
                    "name" => json!({"type": "string", "pattern": SESSION_NAME, "not": {"enum": ["new", "resume", "inherit"]}}),
                    other => agent_key(other),
                }),
            },
            "step": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": false,
                "properties": object(STEP_KEYS, step_key),
            },
            "loop": {
                "type": "object",
                "additionalProperties": false,
                "properties": object(LOOP_KEYS, loop_key),
            },
            "env": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
            "budget": {
                "type": "object",
                "additionalProperties": false,
                "minProperties": 1,
                "description": "Cost and token limits (the run at the top level; headless agent steps and containers).",
                "properties": {
                    "max_cost_usd": {"type": "number", "exclusiveMinimum": 0, "description": "US dollars, as the CLIs report cost."},
                    "max_tokens": {"type": "integer", "minimum": 1, "description": "Input + output tokens, cached input counted as input."},
                    "warn_at": {"type": "number", "minimum": 0, "maximum": 1, "description": "Fraction at which a warning is printed once (default 0.8)."},
                },
            },
        }
    })
}

/// Session names may also contain `-`, as Go agent-runner files wrote them (compat-go.md §2).
const SESSION_NAME: &str = "^[A-Za-z_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$";

/// The top-level key the Go spellings add: `hidden` (compat-go.md §2).
fn with_go_keys(mut properties: Value) -> Value {
    if let Value::Object(map) = &mut properties {
        map.insert(
            "hidden".to_owned(),
            json!({"type": "boolean", "description": "Leave the workflow out of `agent-runner workflows` (shown with --all)."}),
        );
    }
    properties
}

fn object(keys: &[&str], schema_of: impl Fn(&str) -> Value) -> Value {
    let mut map = Map::new();
    for key in keys {
        map.insert((*key).to_owned(), schema_of(key));
    }
    Value::Object(map)
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn top_key(key: &str) -> Value {
    match key {
        "name" => {
            json!({"type": "string", "minLength": 1, "description": "Display name and run-id slug."})
        }
        "description" => string("Shown by `workflows`, `--dry-run` and in interactive framing."),
        "params" => json!({"type": "array", "items": {"$ref": "#/$defs/param"}}),
        "sessions" => json!({"type": "array", "items": {"$ref": "#/$defs/session"}}),
        "engine" => json!({
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string"}},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        }),
        "requires" => json!({
            "type": "array",
            "description": "Programs on PATH and project paths checked before the first step.",
            "items": {"oneOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "program": {"type": "string", "minLength": 1},
                        "path": {"type": "string", "minLength": 1},
                        "hint": {"type": "string"},
                    },
                },
            ]},
        }),
        "defaults" => json!({
            "type": "object",
            "additionalProperties": false,
            "properties": object(DEFAULTS_KEYS, agent_key),
        }),
        "env" => json!({"$ref": "#/$defs/env"}),
        "budget" => json!({"$ref": "#/$defs/budget"}),
        "steps" => json!({"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}}),
        _ => json!({}),
    }
}

fn param_key(key: &str) -> Value {
    match key {
        "name" => json!({"type": "string", "pattern": IDENTIFIER}),
        "description" => string("Shown by `workflows` and in usage errors."),
        "default" => {
            json!({"type": ["string", "number", "boolean"], "description": "Template over builtins only."})
        }
        "required" | "secret" => json!({"type": "boolean"}),
        _ => json!({}),
    }
}

fn agent_key(key: &str) -> Value {
    match key {
        // `cursor` is the Go agent-runner's name of cursor-agent (compat-go.md §2).
        "cli" => json!({"enum": CLI_NAMES.iter().copied().chain(["cursor"]).collect::<Vec<_>>()}),
        "model" => string("Model name, passed through the adapter (template)."),
        "effort" => json!({"enum": Effort::ALL}),
        "agent" => string("Profile from config.yaml."),
        "permissions" => json!({"enum": Permissions::ALL}),
        // Also keys of steps (which fall back to this table).
        "timeout" | "idle_timeout" => json!({
            "type": "string",
            "minLength": 1,
            "pattern": DURATION_OR_NONE,
            "description": "A duration such as 90s, 15m or 1h30m (shell and headless steps), or none.",
        }),
        "launcher" => json!({"$ref": "#/$defs/launcher"}),
        "retry" => retry_schema(),
        "deny" => json!({
            "enum": ["warn", "fail"],
            "description": "What a headless step does when tool calls were denied: warn (the default) or fail (class permission_denied).",
        }),
        _ => json!({}),
    }
}

/// `launcher` (docs/launchers.md): an argv prefix, or a mapping with `argv` and options.
fn launcher_def() -> Value {
    let argv = json!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string"},
        "prefixItems": [{"type": "string", "minLength": 1, "not": {"pattern": "\\{\\{"}}],
        "description": "The argv prefix, e.g. [ssh, build-box, --]; the program is a literal, the other words are templates.",
    });
    json!({
        "description": "Runs shell and agent steps through this command (ssh, docker exec, kubectl exec): docs/launchers.md.",
        "oneOf": [
            argv,
            {
                "type": "object",
                "required": ["argv"],
                "additionalProperties": false,
                "properties": {
                    "argv": argv,
                    "shell": {"type": "boolean", "description": "The other side reads one shell command line (default: true for ssh, false otherwise)."},
                    "max_concurrent": {"type": "integer", "minimum": 1, "description": "At most this many steps through this launcher at once."},
                    "check": {"oneOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}], "description": "A probe preflight runs through the launcher (true: the command true)."},
                },
            }
        ]
    })
}

/// `retry`: a number of attempts, or the long form (control.md §4).
fn retry_schema() -> Value {
    let duration = json!({
        "type": "string",
        "minLength": 1,
        "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$",
    });
    json!({
        "description": "Try a failed shell or headless step again: the total number of tries (2 to 20), or attempts, backoff, max_delay, on and wait_for_reset.",
        "oneOf": [
            {"type": "integer", "minimum": 2, "maximum": 20},
            {
                "type": "object",
                "required": ["attempts"],
                "additionalProperties": false,
                "properties": {
                    "attempts": {"type": "integer", "minimum": 2, "maximum": 20},
                    "backoff": duration,
                    "max_delay": duration,
                    "on": {
                        "type": "array",
                        "items": {"enum": crate::error::ErrorClass::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                    },
                    "wait_for_reset": {"type": "boolean"},
                },
            },
        ],
    })
}

fn step_key(key: &str) -> Value {
    match key {
        "id" => json!({"type": "string", "pattern": STEP_ID}),
        "description" => string("Free text, shown by --dry-run."),
        // `autonomous` is the later Go name of headless (compat-go.md §2).
        "mode" => json!({"enum": ["interactive", "headless", "shell", "autonomous"]}),
        "prompt" => {
            json!({"type": "string", "minLength": 1, "description": "The agent's task (template)."})
        }
        "command" => {
            json!({"type": "string", "minLength": 1, "description": "Run with sh -c (shell-quoted template)."})
        }
        "session" => {
            json!({"type": "string", "description": "new, resume, inherit, or a declared session name."})
        }
        "capture" => json!({"type": "string", "pattern": IDENTIFIER}),
        "capture_stderr" | "continue_on_failure" => json!({"type": "boolean"}),
        "output" => json!({
            "description": "The step's answer is one JSON value (shell and headless steps): json, or a JSON Schema it must match.",
            "oneOf": [
                {"enum": ["json"]},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "schema": {
                            "type": ["object", "boolean"],
                            "description": "An inline JSON Schema (draft 2020-12).",
                        },
                        "schema_file": string("A JSON (or YAML) schema file, relative to the workflow file."),
                    },
                }
            ]
        }),
        "workdir" => string("Working directory, relative to the project dir (template)."),
        "env" => json!({"$ref": "#/$defs/env"}),
        "budget" => json!({"$ref": "#/$defs/budget"}),
        "skip_if" => json!({"type": "string", "pattern": "^(previous_success|sh:.*\\S.*)$"}),
        "when" => json!({
            "type": "string",
            "minLength": 1,
            "description": "A CEL expression; the step runs only when it is true (control.md §6).",
        }),
        "break_if" => json!({
            "type": "string",
            "minLength": 1,
            "description": "success, failure, or a CEL expression evaluated after the step: true ends the loop.",
        }),
        "loop" => json!({"$ref": "#/$defs/loop"}),
        "steps" => json!({"type": "array", "items": {"$ref": "#/$defs/step"}}),
        "parallel" => json!({
            "description": "On a group: its children run at once, each a branch.",
            "oneOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "properties": {
                        "max": {"type": "integer", "minimum": 1},
                        "fail_fast": {"type": "boolean"}
                    },
                    "additionalProperties": false
                }
            ]
        }),
        "workflow" => {
            string("builtin:<name>, a path ending in .yaml, or a workflow name (template).")
        }
        "params" => json!({
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        }),
        "worktree" => json!({
            "type": "boolean",
            "description": "On a parallel group or a loop with max_parallel: each branch runs in its own git worktree.",
        }),
        other => agent_key(other),
    }
}

fn loop_key(key: &str) -> Value {
    match key {
        "max" => json!({
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 10000},
                {"type": "string"}
            ]
        }),
        "over" => string("Glob pattern, relative to the project dir (template)."),
        "as" | "as_index" => json!({"type": "string", "pattern": IDENTIFIER}),
        "require_matches" => json!({"type": "boolean"}),
        "max_parallel" => json!({
            "description": "Up to this many iterations at once (template allowed).",
            "oneOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string"}
            ]
        }),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::yaml::parse;

    /// Every key of every table has a real schema, not the `{}` fallback.
    #[test]
    fn every_key_is_described() {
        for (keys, f) in [
            (TOP_KEYS, top_key as fn(&str) -> Value),
            (PARAM_KEYS, param_key),
            (STEP_KEYS, step_key),
            (LOOP_KEYS, loop_key),
            (DEFAULTS_KEYS, agent_key),
        ] {
            for key in keys {
                assert_ne!(f(key), json!({}), "no schema for {key}");
            }
        }
    }

    #[test]
    fn committed_schema_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/workflow.schema.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == schema_text(),
            "schema/workflow.schema.json is stale: run `cargo run -- schema > schema/workflow.schema.json`"
        );
    }

    /// The valid fixtures and the built-ins validate against the schema (with a small checker
    /// for the subset of JSON Schema used here), and an unknown key does not.
    #[test]
    fn examples_and_builtins_match_the_schema() {
        let schema = schema();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/valid");
        let mut texts: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        for name in crate::workflow::builtin::workflow_names() {
            let bytes = crate::workflow::builtin::workflow(name).unwrap();
            texts.push((name.to_owned(), String::from_utf8(bytes.to_vec()).unwrap()));
        }
        assert!(texts.len() > 3);
        for (name, text) in texts {
            let value = parse(&text).unwrap().to_json();
            let errors = check(&schema, &schema, &value, "");
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
        let bad = parse("name: x\nsteps: [{id: a, comand: ls}]\n")
            .unwrap()
            .to_json();
        assert!(!check(&schema, &schema, &bad, "").is_empty());
    }

    /// Checks `value` against `schema` for the keywords this schema uses.
    fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            return check(root, &root["$defs"][name], value, at);
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let ok = types.iter().any(|t| match *t {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "integer" => value.is_i64() || value.is_u64(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                _ => false,
            });
            if !ok {
                errors.push(format!("{at}: wrong type"));
                return errors;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: not in enum"));
        }
        if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|o| check(root, o, value, at).is_empty())
                .count();
            if matching != 1 {
                errors.push(format!("{at}: matches {matching} of oneOf"));
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(text) = value.as_str()
            && !regex::Regex::new(pattern).unwrap().is_match(text)
        {
            errors.push(format!("{at}: does not match {pattern}"));
        }
        if let Some(items) = value.as_array() {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                errors.push(format!("{at}: too few items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    errors.extend(check(root, item_schema, item, &format!("{at}/{i}")));
                }
            }
        }
        if let Some(map) = value.as_object() {
            for key in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !map.contains_key(key.as_str().unwrap_or_default()) {
                    errors.push(format!("{at}: missing {key}"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (key, item) in map {
                let path = format!("{at}/{key}");
                match props.and_then(|p| p.get(key)) {
                    Some(s) => errors.extend(check(root, s, item, &path)),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => errors.push(format!("{path}: not allowed")),
                        Some(s @ Value::Object(_)) => errors.extend(check(root, s, item, &path)),
                        _ => {}
                    },
                }
            }
        }
        errors
    }
}
