//! YAML parsing: the only module that sees serde_yaml.
//!
//! A file is parsed into a `serde_yaml::Value` and converted at once into our own small [`Node`]
//! tree: mapping entries keep their order, keys are strings, and scalars remember whether they
//! were booleans, numbers, null or strings. Everything after this module (the analysis that
//! produces diagnostics) works on [`Node`]s, so the YAML library can be swapped without touching
//! the rules of the format.

use serde_yaml::Value;

/// One YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    /// A number as written; `int` is set when it is a whole number that fits in an `i64`.
    Num {
        text: String,
        int: Option<i64>,
    },
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order. Keys that are not strings are converted to their text.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// How the value reads after "found" in a `wrong-type` message: `string "x"`, `a list`, …
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "null (an empty value)".to_owned(),
            Node::Bool(b) => format!("boolean {b}"),
            Node::Num { text, .. } => format!("number {text}"),
            Node::Str(s) => format!("string {}", quote_short(s)),
            Node::Seq(_) => "a list".to_owned(),
            Node::Map(_) => "a mapping".to_owned(),
        }
    }

    /// The text of a scalar (strings, numbers, booleans); `None` for null, lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.clone()),
            Node::Num { text, .. } => Some(text.clone()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }
}

/// A quoted value for messages, cut after 40 characters so a huge value cannot flood the output.
pub fn quote_short(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{:?}", format!("{cut}…"))
}

/// Why a file is not a YAML document we can analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// `yaml-syntax` or `duplicate-key`.
    pub code: &'static str,
    pub message: String,
    /// 1-based position, when the parser gives one.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// Parses one YAML document. An empty document (or one with only comments) is [`Node::Null`].
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(value) => Ok(convert(value)),
        Err(err) => Err(syntax_error(&err)),
    }
}

/// Turns a serde_yaml error into our message: the position moves to `line`/`column`, and the
/// few messages that read badly on their own are rewritten.
fn syntax_error(err: &serde_yaml::Error) -> SyntaxError {
    let location = err.location();
    let full = err.to_string();
    let (line, column) = match &location {
        Some(l) => (Some(l.line()), Some(l.column())),
        None => (None, None),
    };
    if let Some(rest) = full.split_once("duplicate entry with key ").map(|(_, r)| r) {
        let quoted = strip_marks(rest);
        let key = serde_json::from_str::<String>(&quoted).unwrap_or(quoted);
        return SyntaxError {
            code: "duplicate-key",
            message: format!("duplicate key \"{key}\""),
            line,
            column,
        };
    }
    let message = if full.starts_with("recursion limit exceeded") {
        "the document is nested too deeply (more than 128 levels)".to_owned()
    } else if let Some(number) = huge_integer(&full) {
        format!("the number {number} is too large")
    } else {
        // Messages may carry a serde path prefix ("steps[0].x: "); the position says it better.
        let message = strip_marks(&full);
        match message.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') && !rest.is_empty() => rest.to_owned(),
            _ => message,
        }
    };
    SyntaxError {
        code: "yaml-syntax",
        message: format!("invalid YAML: {message}"),
        line,
        column,
    }
}

/// `invalid type: integer `123…` as u128` → the digits.
fn huge_integer(message: &str) -> Option<&str> {
    let start = message.find("integer `")? + "integer `".len();
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// Removes every " at line N column M" / " at position N" from a libyaml message.
fn strip_marks(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(index) = rest.find(" at ") {
        out.push_str(&rest[..index]);
        let after = &rest[index + 4..];
        let skip = mark_len(after);
        if skip == 0 {
            out.push_str(" at ");
            rest = after;
        } else {
            rest = &after[skip..];
        }
    }
    out.push_str(rest);
    out
}

/// Length of a leading `line N column M` or `position N`, or 0.
fn mark_len(text: &str) -> usize {
    fn digits(text: &str) -> usize {
        text.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(rest) = text.strip_prefix("line ") {
        let n = digits(rest);
        if n > 0
            && let Some(rest2) = rest[n..].strip_prefix(" column ")
        {
            let m = digits(rest2);
            if m > 0 {
                return "line ".len() + n + " column ".len() + m;
            }
        }
    } else if let Some(rest) = text.strip_prefix("position ") {
        let n = digits(rest);
        if n > 0 {
            return "position ".len() + n;
        }
    }
    0
}

/// Converts a serde_yaml value. The recursion is bounded by serde_yaml's own nesting limit (128).
fn convert(value: Value) -> Node {
    match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(b),
        Value::Number(n) => Node::Num {
            text: n.to_string(),
            int: n.as_i64(),
        },
        Value::String(s) => Node::Str(s),
        Value::Sequence(items) => Node::Seq(items.into_iter().map(convert).collect()),
        Value::Mapping(map) => Node::Map(
            map.into_iter()
                .map(|(k, v)| (key_text(&k), convert(v)))
                .collect(),
        ),
        // Tags are not part of the format; the tagged value is read as if untagged.
        Value::Tagged(tagged) => convert(tagged.value),
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Tagged(t) => key_text(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => "<complex key>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_scalar_kinds() {
        let node = parse("b: 1\na: true\nc: x\nd:\n").unwrap();
        let Node::Map(entries) = node else { panic!() };
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
        assert_eq!(entries[1].1, Node::Bool(true));
        assert_eq!(entries[3].1, Node::Null);
        assert!(matches!(entries[0].1, Node::Num { int: Some(1), .. }));
    }

    #[test]
    fn syntax_errors_have_positions_and_clean_messages() {
        let err = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(err.code, "yaml-syntax");
        assert_eq!((err.line, err.column), (Some(2), Some(1)));
        assert!(!err.message.contains("line 2"), "{}", err.message);
        let err = parse("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!(err.code, "duplicate-key");
        assert_eq!(err.message, "duplicate key \"c\"");
        let err = parse("x: 99999999999999999999999\n").unwrap_err();
        assert_eq!(
            err.message,
            "invalid YAML: the number 99999999999999999999999 is too large"
        );
    }
}
