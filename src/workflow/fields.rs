//! Reading mappings strictly: findings with YAML paths, and a reader that reports unknown keys
//! and wrong types instead of stopping at them.
//!
//! Analysis never knows line numbers. Each [`Finding`] records the YAML path of the offending key
//! or value; the loader turns paths into positions afterwards, only when there is something to
//! report (see [`positions`](super::positions)). Paths and locations are kept in a compact,
//! borrowed form ([`YamlPath`], [`Location`]) while analysis runs and written out as text only
//! when a finding is recorded, so a file without problems never formats them.

use std::borrow::Cow;
use std::fmt;

use super::diagnostic::Diagnostic;
use super::suggest::suggest;
use super::yaml::Node;

/// Whether a finding points at a key or at its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Key,
    Value,
    /// A place inside a scalar value: line and column (1-based) in its text, as for an
    /// expression's syntax error.
    Within {
        line: usize,
        column: usize,
    },
}

/// A YAML path (`steps.2.steps.0.comand`) as a chain of borrowed segments on the stack. It is
/// written out, with the rules of [`join`](super::positions::join), only for a finding.
#[derive(Debug, Clone, Copy)]
pub enum YamlPath<'a> {
    /// A path already in text form; `""` is the root.
    Text(&'a str),
    /// The value of `key` in the mapping at the parent path.
    Key(&'a YamlPath<'a>, &'a str),
    /// Item `index` of the list at the parent path.
    Index(&'a YamlPath<'a>, usize),
}

impl<'a> YamlPath<'a> {
    /// The root of the document.
    pub const ROOT: YamlPath<'static> = YamlPath::Text("");

    /// The path of `key` in the mapping at this path.
    pub fn key(&'a self, key: &'a str) -> YamlPath<'a> {
        YamlPath::Key(self, key)
    }

    /// The path of item `index` of the list at this path.
    pub fn index(&'a self, index: usize) -> YamlPath<'a> {
        YamlPath::Index(self, index)
    }

    /// Appends the path to `out`, which holds nothing else.
    fn write(&self, out: &mut String) {
        match *self {
            YamlPath::Text(text) => out.push_str(text),
            YamlPath::Key(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            YamlPath::Index(parent, index) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                push_number(out, index);
            }
        }
    }
}

impl fmt::Display for YamlPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

impl<'a> From<&'a str> for YamlPath<'a> {
    fn from(text: &'a str) -> Self {
        YamlPath::Text(text)
    }
}

impl<'a> From<&'a String> for YamlPath<'a> {
    fn from(text: &'a String) -> Self {
        YamlPath::Text(text)
    }
}

impl<'a> From<&YamlPath<'a>> for YamlPath<'a> {
    fn from(path: &YamlPath<'a>) -> Self {
        *path
    }
}

/// Appends the decimal digits of `n` (what `n.to_string()` gives, without the formatter).
pub fn push_number(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
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

/// Where analysis currently is, as the `location` of a diagnostic says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A fixed text: `top level`, `params[0] (name "x")`, `hooks.enrich_prompt`.
    Text(Cow<'static, str>),
    /// A step: its path (`steps[2].steps[0]`) and its `id` when that is a string. The location
    /// reads `steps[2] (id "x")`, and findings get the id as their step.
    Step { path: String, id: Option<String> },
}

impl Location {
    pub const TOP_LEVEL: Location = Location::Text(Cow::Borrowed("top level"));

    /// The location as diagnostics show it.
    pub fn text(&self) -> String {
        match self {
            Location::Text(text) => text.clone().into_owned(),
            Location::Step { path, id: Some(id) } => format!("{path} (id \"{id}\")"),
            Location::Step { path, id: None } => path.clone(),
        }
    }

    /// The id of the step analysis is in, when it has a string id.
    pub fn step_id(&self) -> Option<&str> {
        match self {
            Location::Step { id, .. } => id.as_deref(),
            Location::Text(_) => None,
        }
    }
}

/// Collects findings; `location` describes where analysis currently is.
#[derive(Debug)]
pub struct Sink {
    pub findings: Vec<Finding>,
    pub location: Location,
    /// How many errors were found: steps compare it before and after, so counting must not walk
    /// the findings (a file of many bad steps would take quadratic time).
    errors: usize,
    /// Findings past [`MAX_FINDINGS`], counted but not kept.
    dropped: usize,
    /// Where a dropped finding is built, so that [`Sink::push`] can always return one.
    spare: Option<Finding>,
}

/// The most findings kept for one file: enough to fix a file by, and a bound on the memory and
/// time a small file of many bad steps can cost.
pub const MAX_FINDINGS: usize = 1000;

impl Default for Sink {
    fn default() -> Self {
        Sink {
            findings: Vec::new(),
            location: Location::TOP_LEVEL,
            errors: 0,
            dropped: 0,
            spare: None,
        }
    }
}

impl Sink {
    /// Records `diagnostic` at the current location; returns it so a hint can be added.
    pub fn push<'p>(
        &mut self,
        mut diagnostic: Diagnostic,
        path: impl Into<YamlPath<'p>>,
        target: Target,
    ) -> &mut Finding {
        diagnostic.location = self.location.text();
        diagnostic.step_id = self.location.step_id().map(str::to_owned);
        self.errors += usize::from(diagnostic.is_error());
        let finding = Finding {
            diagnostic,
            path: path.into().to_string(),
            target,
            first_use: None,
        };
        if self.findings.len() >= MAX_FINDINGS {
            self.dropped += 1;
            return self.spare.insert(finding);
        }
        self.findings.push(finding);
        let last = self.findings.len() - 1;
        &mut self.findings[last]
    }

    /// Takes over the findings of `other` (collected before this sink), counts included.
    pub fn absorb(&mut self, other: Sink) {
        self.errors += other.errors;
        self.dropped += other.dropped;
        for finding in other.findings {
            if self.findings.len() >= MAX_FINDINGS {
                self.dropped += 1;
            } else {
                self.findings.push(finding);
            }
        }
    }

    /// The index of the finding the last [`Sink::push`] kept, if it kept it.
    pub fn last_kept(&self) -> Option<usize> {
        (self.dropped == 0).then(|| self.findings.len().checked_sub(1))?
    }

    /// How many findings were not kept (past [`MAX_FINDINGS`]).
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    pub fn error<'p>(
        &mut self,
        code: &'static str,
        message: String,
        path: impl Into<YamlPath<'p>>,
        target: Target,
    ) {
        self.push(Diagnostic::error(code, message), path, target);
    }

    pub fn error_help<'p>(
        &mut self,
        code: &'static str,
        message: String,
        help: String,
        path: impl Into<YamlPath<'p>>,
        target: Target,
    ) {
        self.push(
            Diagnostic::error(code, message).with_help(help),
            path,
            target,
        );
    }

    pub fn warning<'p>(
        &mut self,
        code: &'static str,
        message: String,
        path: impl Into<YamlPath<'p>>,
        target: Target,
    ) {
        self.push(Diagnostic::warning(code, message), path, target);
    }

    pub fn warning_help<'p>(
        &mut self,
        code: &'static str,
        message: String,
        help: String,
        path: impl Into<YamlPath<'p>>,
        target: Target,
    ) {
        self.push(
            Diagnostic::warning(code, message).with_help(help),
            path,
            target,
        );
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// `"<key>" must be <expected>, found <kind>` at the value.
    pub fn wrong_type<'p>(
        &mut self,
        key: &str,
        expected: &str,
        found: &Node,
        path: impl Into<YamlPath<'p>>,
    ) {
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
pub struct MapReader<'n, 'p> {
    pub entries: &'n [(String, Node)],
    pub path: YamlPath<'p>,
}

impl<'n, 'p> MapReader<'n, 'p> {
    pub fn new(entries: &'n [(String, Node)], path: impl Into<YamlPath<'p>>) -> Self {
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

    pub fn path_of<'s>(&'s self, key: &'s str) -> YamlPath<'s> {
        YamlPath::Key(&self.path, key)
    }

    /// Reports keys not in `allowed`, with a did-you-mean or the list of allowed keys.
    pub fn check_keys(&self, allowed: &[&str], sink: &mut Sink) {
        self.check_keys_with(allowed, |key| allowed.contains(&key), sink);
    }

    /// [`check_keys`](Self::check_keys) with `known` telling which keys are in `allowed`.
    pub fn check_keys_with(&self, allowed: &[&str], known: impl Fn(&str) -> bool, sink: &mut Sink) {
        for (key, _) in self.entries {
            if known(key) {
                continue;
            }
            let path = self.path_of(key);
            let message = match suggest(key, allowed.iter().copied()) {
                Some(best) => format!("unknown key \"{key}\" (did you mean \"{best}\"?)"),
                None => format!(
                    "unknown key \"{key}\"; allowed here: {}",
                    allowed.join(", ")
                ),
            };
            sink.error("unknown-key", message, path, Target::Key);
        }
    }

    /// A string value; other kinds are `wrong-type`.
    pub fn string(&self, key: &str, sink: &mut Sink) -> Option<&'n str> {
        let node = self.get(key)?;
        match node {
            Node::Str(s) => Some(s),
            other => {
                sink.wrong_type(key, A_STRING, other, self.path_of(key));
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
                self.path_of(key),
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
            sink.wrong_type(key, A_STRING, node, self.path_of(key));
        }
        text
    }

    pub fn bool(&self, key: &str, sink: &mut Sink) -> Option<bool> {
        match self.get(key)? {
            Node::Bool(b) => Some(*b),
            other => {
                sink.wrong_type(key, A_BOOL, other, self.path_of(key));
                None
            }
        }
    }

    /// A whole number of at least 1 (`max_concurrent`, `parallel.max`); `code` names the error.
    pub fn positive_int(&self, key: &str, code: &'static str, sink: &mut Sink) -> Option<u32> {
        let node = self.get(key)?;
        match node {
            Node::Num { int: Some(n), .. } if *n >= 1 => u32::try_from(*n).ok(),
            other => {
                sink.error(
                    code,
                    format!(
                        "\"{key}\" must be a whole number of at least 1, found {}",
                        other.describe()
                    ),
                    self.path_of(key),
                    Target::Value,
                );
                None
            }
        }
    }

    pub fn list(&self, key: &str, sink: &mut Sink) -> Option<&'n [Node]> {
        match self.get(key)? {
            Node::Seq(items) => Some(items),
            other => {
                sink.wrong_type(key, A_LIST, other, self.path_of(key));
                None
            }
        }
    }

    pub fn map(&self, key: &str, sink: &mut Sink) -> Option<&'n [(String, Node)]> {
        match self.get(key)? {
            Node::Map(entries) => Some(entries),
            other => {
                sink.wrong_type(key, A_MAPPING, other, self.path_of(key));
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
                self.path_of(key),
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
