//! Reading mappings strictly: findings with YAML paths, and a reader that reports unknown keys
//! and wrong types instead of stopping at them.
//!
//! Analysis never knows line numbers. Each [`Finding`] records the YAML path of the offending key
//! or value; the loader turns paths into positions afterwards, only when there is something to
//! report (see [`positions`](super::positions)).

use super::diagnostic::Diagnostic;
use super::positions::join;
use super::suggest::suggest;
use super::yaml::Node;

/// Whether a finding points at a key or at its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Key,
    Value,
}

/// A diagnostic before its position is known.
#[derive(Debug, Clone)]
pub struct Finding {
    pub diagnostic: Diagnostic,
    pub path: String,
    pub target: Target,
    /// For `duplicate-id`: the path of the first use, whose line completes the message.
    pub first_use: Option<String>,
}

/// Collects findings; `location` and `step_id` describe where analysis currently is.
#[derive(Debug)]
pub struct Sink {
    pub findings: Vec<Finding>,
    pub location: String,
    pub step_id: Option<String>,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            findings: Vec::new(),
            location: "top level".to_owned(),
            step_id: None,
        }
    }
}

impl Sink {
    /// Records `diagnostic` at the current location; returns it so a hint can be added.
    pub fn push(&mut self, mut diagnostic: Diagnostic, path: &str, target: Target) -> &mut Finding {
        diagnostic.location.clone_from(&self.location);
        diagnostic.step_id.clone_from(&self.step_id);
        self.findings.push(Finding {
            diagnostic,
            path: path.to_owned(),
            target,
            first_use: None,
        });
        let last = self.findings.len() - 1;
        &mut self.findings[last]
    }

    pub fn error(&mut self, code: &'static str, message: String, path: &str, target: Target) {
        self.push(Diagnostic::error(code, message), path, target);
    }

    pub fn error_help(
        &mut self,
        code: &'static str,
        message: String,
        help: String,
        path: &str,
        target: Target,
    ) {
        self.push(
            Diagnostic::error(code, message).with_help(help),
            path,
            target,
        );
    }

    pub fn warning(&mut self, code: &'static str, message: String, path: &str, target: Target) {
        self.push(Diagnostic::warning(code, message), path, target);
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.diagnostic.is_error())
    }

    pub fn error_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.diagnostic.is_error())
            .count()
    }

    /// `"<key>" must be <expected>, found <kind>` at the value.
    pub fn wrong_type(&mut self, key: &str, expected: &str, found: &Node, path: &str) {
        self.error(
            "wrong-type",
            format!("\"{key}\" must be {expected}, found {}", found.describe()),
            path,
            Target::Value,
        );
    }
}

/// What a wrong-type message says a value must be.
pub const A_STRING: &str = "a string";
pub const A_BOOL: &str = "a boolean (true or false)";
pub const A_LIST: &str = "a list";
pub const A_MAPPING: &str = "a mapping";
pub const A_NUMBER: &str = "a whole number";

/// A mapping being read: typed getters that report wrong types to the sink.
pub struct MapReader<'n> {
    pub entries: &'n [(String, Node)],
    pub path: String,
}

impl<'n> MapReader<'n> {
    pub fn new(entries: &'n [(String, Node)], path: impl Into<String>) -> Self {
        MapReader {
            entries,
            path: path.into(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Reports keys not in `allowed`, with a did-you-mean or the list of allowed keys. Keys in
    /// `planned` get the `planned` error instead.
    pub fn check_keys(&self, allowed: &[&str], planned: &[&str], sink: &mut Sink) {
        for (key, _) in self.entries {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let path = self.path_of(key);
            if planned.contains(&key.as_str()) {
                sink.error(
                    "planned",
                    format!("\"{key}\" is planned but not supported yet"),
                    &path,
                    Target::Key,
                );
                continue;
            }
            let message = match suggest(key, allowed.iter().copied()) {
                Some(best) => format!("unknown key \"{key}\" (did you mean \"{best}\"?)"),
                None => format!(
                    "unknown key \"{key}\"; allowed here: {}",
                    allowed.join(", ")
                ),
            };
            sink.error("unknown-key", message, &path, Target::Key);
        }
    }

    /// A string value; other kinds are `wrong-type`.
    pub fn string(&self, key: &str, sink: &mut Sink) -> Option<&'n str> {
        let node = self.get(key)?;
        match node {
            Node::Str(s) => Some(s),
            other => {
                sink.wrong_type(key, A_STRING, other, &self.path_of(key));
                None
            }
        }
    }

    /// A non-empty string; an empty one is `empty-value`.
    pub fn nonempty_string(&self, key: &str, sink: &mut Sink) -> Option<&'n str> {
        let text = self.string(key, sink)?;
        if text.trim().is_empty() {
            sink.error(
                "empty-value",
                format!("\"{key}\" must not be empty"),
                &self.path_of(key),
                Target::Value,
            );
            return None;
        }
        Some(text)
    }

    /// A scalar (string, number or boolean) as text.
    pub fn scalar(&self, key: &str, sink: &mut Sink) -> Option<String> {
        let node = self.get(key)?;
        let text = node.scalar_text();
        if text.is_none() {
            sink.wrong_type(key, A_STRING, node, &self.path_of(key));
        }
        text
    }

    pub fn bool(&self, key: &str, sink: &mut Sink) -> Option<bool> {
        match self.get(key)? {
            Node::Bool(b) => Some(*b),
            other => {
                sink.wrong_type(key, A_BOOL, other, &self.path_of(key));
                None
            }
        }
    }

    pub fn list(&self, key: &str, sink: &mut Sink) -> Option<&'n [Node]> {
        match self.get(key)? {
            Node::Seq(items) => Some(items),
            other => {
                sink.wrong_type(key, A_LIST, other, &self.path_of(key));
                None
            }
        }
    }

    pub fn map(&self, key: &str, sink: &mut Sink) -> Option<&'n [(String, Node)]> {
        match self.get(key)? {
            Node::Map(entries) => Some(entries),
            other => {
                sink.wrong_type(key, A_MAPPING, other, &self.path_of(key));
                None
            }
        }
    }

    /// A string that must be one of `choices`: `invalid <key> "<v>": use a, b or c`.
    pub fn keyword<T>(
        &self,
        key: &str,
        choices: &[&str],
        parse: impl Fn(&str) -> Option<T>,
        sink: &mut Sink,
    ) -> Option<T> {
        let text = self.string(key, sink)?;
        let value = parse(text);
        if value.is_none() {
            sink.error(
                "invalid-value",
                invalid_value(key, text, choices),
                &self.path_of(key),
                Target::Value,
            );
        }
        value
    }
}

/// `invalid <key> "<v>": use a, b or c (did you mean "b"?)`
pub fn invalid_value(key: &str, value: &str, choices: &[&str]) -> String {
    let hint = super::suggest::did_you_mean(value, choices.iter().copied());
    format!(
        "invalid {key} {}: use {}{hint}",
        super::yaml::quote_short(value),
        or_list(choices)
    )
}

/// `a, b or c`
pub fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[A-Za-z0-9][A-Za-z0-9_-]{0,63}`
pub fn is_step_id(text: &str) -> bool {
    let mut chars = text.chars();
    text.len() <= 64
        && matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_ids() {
        assert!(is_identifier("change_name"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a-b"));
        assert!(is_step_id("run-tests_2"));
        assert!(is_step_id("2nd"));
        assert!(!is_step_id("-x"));
        assert!(!is_step_id(&"a".repeat(65)));
        assert_eq!(or_list(&["a", "b", "c"]), "a, b or c");
    }
}
