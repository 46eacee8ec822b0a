//! Later Go features this tool does not have (compat-go.md §4): each is reported once, as the
//! error `go-only-feature` pointing to docs/migrating.md, never as another code. After reporting,
//! the construct is taken out of the tree so the loader says nothing more about it.

use super::MIGRATING_DOC;
use crate::workflow::fields::{Sink, Target};
use crate::workflow::model::AgentMode;
use crate::workflow::yaml::Node;

/// Keys of a Go `mode: ui` step.
const UI_KEYS: &[&str] = &["title", "body", "actions", "inputs", "outcome_capture"];
/// Keys of a Go script step.
const SCRIPT_KEYS: &[&str] = &["script", "script_inputs"];
/// Go-only keys that are dropped from an otherwise runnable step, with the feature's name.
const STEP_KEYS: &[(&str, &str)] = &[("tools", "tools:"), ("repair", "repair:")];
/// Go-only top-level keys.
const TOP_KEYS: &[(&str, &str)] = &[("tools", "tools:")];
/// Built-in variables of later Go releases that do not exist here.
pub const GO_ONLY_VARS: &[&str] = &["intake_handoff"];

fn report(sink: &mut Sink, feature: &str, path: &str, target: Target) {
    sink.error(
        "go-only-feature",
        format!(
            "\"{feature}\" is a feature of the Go agent-runner that agent-runner does not support; see {MIGRATING_DOC}"
        ),
        path,
        target,
    );
}

fn key_path(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// Go-only keys at the top level of a workflow.
pub fn top_level(entries: &mut Vec<(String, Node)>, sink: &mut Sink) {
    for (key, feature) in TOP_KEYS {
        if let Some(i) = entries.iter().position(|(k, _)| k == key) {
            report(sink, feature, key, Target::Key);
            entries.remove(i);
        }
    }
}

/// Go-only constructs of one step. Returns true when the whole step was a Go-only kind (a UI or
/// script step), which is then replaced by a placeholder that keeps its `id` and `capture`.
pub fn step(fields: &mut Vec<(String, Node)>, path: &str, sink: &mut Sink) -> bool {
    let has = |fields: &[(String, Node)], key: &str| fields.iter().any(|(k, _)| k == key);
    let ui_mode = fields
        .iter()
        .any(|(k, v)| k == "mode" && v.as_str() == Some("ui"));
    let whole = if ui_mode {
        Some(("mode: ui", "mode", Target::Value))
    } else if let Some(key) = UI_KEYS.iter().find(|k| has(fields, k)) {
        Some(("mode: ui", *key, Target::Key))
    } else {
        SCRIPT_KEYS
            .iter()
            .find(|k| has(fields, k))
            .map(|key| ("script", *key, Target::Key))
    };
    if let Some((feature, key, target)) = whole {
        report(sink, feature, &key_path(path, key), target);
        // The placeholder keeps the id and the capture, so later steps that use the captured
        // value are not reported as well.
        fields.retain(|(k, v)| k == "id" || (k == "capture" && matches!(v, Node::Str(_))));
        fields.push(("command".to_owned(), Node::Str("true".to_owned())));
        return true;
    }
    for (key, feature) in STEP_KEYS {
        if let Some(i) = fields.iter().position(|(k, _)| k == key) {
            report(sink, feature, &key_path(path, key), Target::Key);
            fields.remove(i);
        }
    }
    if let Some(i) = fields.iter().position(|(k, _)| k == "capture_format") {
        // `text` is what a capture is without `output`; `json` is `output: json` (control.md §7).
        match fields[i].1.as_str() {
            Some("text") => {
                fields.remove(i);
            }
            Some("json") if !has(fields, "output") => {
                fields[i] = ("output".to_owned(), Node::Str("json".to_owned()));
            }
            Some("json") => {
                fields.remove(i);
            }
            _ => {
                let value = match fields[i].1.as_str() {
                    Some(text) => crate::workflow::yaml::quote_short(text),
                    None => fields[i].1.describe(),
                };
                sink.error(
                    "invalid-value",
                    format!("invalid capture_format {value}: use text or json"),
                    &key_path(path, "capture_format"),
                    Target::Value,
                );
                fields.remove(i);
            }
        }
    }
    for (key, value) in fields.iter_mut() {
        if let Node::Str(text) = value {
            for var in GO_ONLY_VARS {
                if let Some(cleaned) = strip_var(text, var) {
                    report(
                        sink,
                        &format!("{{{{{var}}}}}"),
                        &key_path(path, key),
                        Target::Value,
                    );
                    *text = cleaned;
                }
            }
        }
    }
    false
}

/// `capture` on an interactive step (agent or shell): Go-only.
pub fn interactive_capture(
    fields: &mut Vec<(String, Node)>,
    mode: AgentMode,
    path: &str,
    sink: &mut Sink,
) {
    if mode != AgentMode::Interactive {
        return;
    }
    if let Some(i) = fields.iter().position(|(k, _)| k == "capture") {
        report(
            sink,
            "capture on an interactive step",
            &key_path(path, "capture"),
            Target::Key,
        );
        fields.remove(i);
        fields.retain(|(k, _)| k != "capture_stderr");
    }
}

/// The text without `{{var}}` (any spacing inside the braces), or `None` when it has none.
fn strip_var(text: &str, var: &str) -> Option<String> {
    // Nearly every text has no such variable: no copy then.
    if !text.contains(var) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut found = false;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + len].trim();
        out.push_str(&rest[..start]);
        if inner == var {
            found = true;
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::strip_var;

    #[test]
    fn go_only_variables_are_found_with_any_spacing() {
        assert_eq!(
            strip_var("a {{ intake_handoff }} b {{x}}", "intake_handoff").as_deref(),
            Some("a  b {{x}}")
        );
        assert_eq!(strip_var("{{x}}", "intake_handoff"), None);
    }
}
