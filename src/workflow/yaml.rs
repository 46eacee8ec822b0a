//! YAML parsing: the only module that sees serde_yaml.
//!
//! A file is parsed into our own small [`Node`] tree: mapping entries keep their order, keys are
//! strings, and scalars remember whether they were booleans, numbers, null or strings. Plain
//! documents are built straight from libyaml's events (the `fast` path: no event buffer, no
//! `serde_yaml::Value`, no second tree); everything else goes through serde_yaml, deserialized
//! directly into [`Node`]. Both readings are the same by construction and by test. Everything after this module (the analysis that
//! produces diagnostics) works on [`Node`]s, so the YAML library can be swapped without touching
//! the rules of the format.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_yaml::{Number, Value};

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
    /// The node as a JSON value (a number that is not an `i64` becomes a float, or `null` when
    /// it is not a number JSON can hold).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num { text, int } => match int {
                Some(i) => Value::from(*i),
                None => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
            },
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

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
///
/// Workflow files almost always take the fast path, which builds the tree straight from libyaml's
/// events. Anything it does not handle exactly as serde_yaml would (syntax errors, tags, aliases,
/// repeated or non-string keys, deep nesting, several documents) goes through serde_yaml, which
/// then gives the result or the error.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    parse_with(text, false, &mut |_, _| {}).map(|(node, _)| node)
}

/// [`parse`] for workflow files, whose analysis goes on past a repeated key: the first value of
/// a repeated key is kept, the repeats are dropped, and the flag says whether there were any
/// (their positions come from [`PositionIndex`](super::positions::PositionIndex)).
///
/// `watch` is told each string value of a mapping entry, with its key, as the parser reads it,
/// so that work on some values can start before the whole tree is built. It is a hint: a
/// document the fast path hands over to serde_yaml tells nothing more, and one handed over
/// midway may have told about values before.
pub fn parse_keeping_first(
    text: &str,
    watch: &mut dyn FnMut(&str, &str),
) -> Result<(Node, bool), SyntaxError> {
    parse_with(text, true, watch)
}

fn parse_with(
    text: &str,
    keep_first: bool,
    watch: &mut dyn FnMut(&str, &str),
) -> Result<(Node, bool), SyntaxError> {
    if let Some(parsed) = fast::parse_watching(text, keep_first, watch) {
        return Ok(parsed);
    }
    // What the fast path hands over can be costly to read: refuse that before reading it.
    super::yaml_limits::check(text)?;
    let repeated = Cell::new(false);
    let seed = NodeSeed(keep_first.then_some(&repeated));
    seed.deserialize(serde_yaml::Deserializer::from_str(text))
        .map(|node| (node, repeated.get()))
        .map_err(|err| name_tabs(text, syntax_error(&err)))
}

/// libyaml says "found character that cannot start any token" for a tab where indentation is
/// read; when the line has a tab up to the error, say so, and how to fix it.
fn name_tabs(text: &str, mut err: SyntaxError) -> SyntaxError {
    let (Some(line), Some(column)) = (err.line, err.column) else {
        return err;
    };
    let Some(source_line) = text.lines().nth(line.saturating_sub(1)) else {
        return err;
    };
    let tab = source_line.chars().take(column).position(|c| c == '\t');
    if err.code == "yaml-syntax"
        && let Some(index) = tab
    {
        err.message = "invalid YAML: a tab character here; YAML is indented with spaces, not tabs (replace the tab with spaces)".to_owned();
        err.column = Some(index + 1);
    }
    err
}

mod fast {
    //! Node building from the libyaml event stream, for the documents where that is exactly what
    //! serde_yaml would build: `None` hands the document back to serde_yaml.

    use std::collections::HashSet;

    use super::super::libyaml::{EventKind, Parser};
    use super::Node;

    /// Deeper documents go through serde_yaml, which enforces its nesting limit (128).
    const MAX_DEPTH: usize = 64;

    /// Mappings with more keys than this check for repeats with a set instead of a scan.
    const SCAN_KEYS: usize = 16;

    enum Frame {
        Seq(Vec<Node>),
        Map {
            entries: Vec<(String, Node)>,
            /// The key whose value comes next; `None` inside it drops the value (a repeat).
            key: Option<Option<String>>,
            /// The keys so far, once there are more than [`SCAN_KEYS`].
            seen: Option<HashSet<String>>,
        },
    }

    /// [`parse_watching`] with no one watching.
    #[cfg(test)]
    pub(super) fn parse(text: &str, keep_first: bool) -> Option<(Node, bool)> {
        parse_watching(text, keep_first, &mut |_, _| {})
    }

    /// The document and whether a key was repeated (only with `keep_first`; otherwise a repeat
    /// hands the document over); `watch` is told each string value of a mapping entry, with
    /// its key, as it is read.
    pub(super) fn parse_watching(
        text: &str,
        keep_first: bool,
        watch: &mut dyn FnMut(&str, &str),
    ) -> Option<(Node, bool)> {
        let mut repeated = false;
        let mut parser = Parser::new(text.as_bytes())?;
        if parser.next_event()?.kind != EventKind::StreamStart
            || parser.next_event()?.kind != EventKind::DocumentStart
        {
            return None;
        }
        let mut stack: Vec<Frame> = Vec::new();
        let root = loop {
            let node = match parser.next_event()?.kind {
                EventKind::Scalar {
                    value,
                    plain,
                    tagged: false,
                } => {
                    if plain {
                        resolve(value)?
                    } else {
                        Node::Str(value)
                    }
                }
                EventKind::SequenceStart { tagged: false } => {
                    stack.push(Frame::Seq(Vec::new()));
                    if stack.len() > MAX_DEPTH {
                        return None;
                    }
                    continue;
                }
                EventKind::MappingStart { tagged: false } => {
                    stack.push(Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        seen: None,
                    });
                    if stack.len() > MAX_DEPTH {
                        return None;
                    }
                    continue;
                }
                EventKind::SequenceEnd | EventKind::MappingEnd => match stack.pop()? {
                    Frame::Seq(items) => Node::Seq(items),
                    Frame::Map { entries, .. } => Node::Map(entries),
                },
                // Tags, aliases and anything unexpected: serde_yaml's business.
                _ => return None,
            };
            match stack.last_mut() {
                None => break node,
                Some(Frame::Seq(items)) => items.push(node),
                Some(Frame::Map { entries, key, seen }) => match key.take() {
                    Some(Some(key)) => {
                        if let Node::Str(value) = &node {
                            watch(&key, value);
                        }
                        entries.push((key, node));
                    }
                    Some(None) => {}
                    None => {
                        let Node::Str(text) = node else {
                            return None;
                        };
                        let repeated_key = match seen {
                            Some(seen) => !seen.insert(text.clone()),
                            None => entries.iter().any(|(k, _)| *k == text),
                        };
                        if repeated_key {
                            if !keep_first {
                                return None;
                            }
                            repeated = true;
                            *key = Some(None);
                            continue;
                        }
                        if seen.is_none() && entries.len() >= SCAN_KEYS {
                            let mut set: HashSet<String> =
                                entries.iter().map(|(k, _)| k.clone()).collect();
                            set.insert(text.clone());
                            *seen = Some(set);
                        }
                        *key = Some(Some(text));
                    }
                },
            }
        };
        // serde_yaml refuses a second document; let it say so.
        if parser.next_event()?.kind != EventKind::DocumentEnd
            || parser.next_event()?.kind != EventKind::StreamEnd
        {
            return None;
        }
        Some((root, repeated))
    }

    /// The YAML 1.2 core-schema type of a plain scalar, as serde_yaml resolves it.
    fn resolve(value: String) -> Option<Node> {
        match value.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => return Some(Node::Null),
            "true" | "True" | "TRUE" => return Some(Node::Bool(true)),
            "false" | "False" | "FALSE" => return Some(Node::Bool(false)),
            _ => {}
        }
        // Only these can start a number (`inf` and `nan` without a dot are not finite floats,
        // which serde_yaml reads as strings).
        if !value.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
            return Some(Node::Str(value));
        }
        match value.parse::<serde_yaml::Number>() {
            Ok(number) => Some(super::number(number)),
            // An integer too large for 64 bits is an error in serde_yaml; let it report it.
            // This also sends a few strings (`0755`, `1st`) the slow way, which is still right.
            Err(_) if looks_integer(&value) => None,
            Err(_) => Some(Node::Str(value)),
        }
    }

    fn looks_integer(value: &str) -> bool {
        let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
        unsigned.starts_with(|c: char| c.is_ascii_digit())
            && unsigned.bytes().all(|b| b.is_ascii_alphanumeric())
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

/// Builds [`Node`]s straight from serde_yaml's events, without a `serde_yaml::Value` in between.
/// The recursion is bounded by serde_yaml's own nesting limit (128).
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        NodeSeed(None).deserialize(deserializer)
    }
}

/// Reads a [`Node`]; with a flag, a repeated key keeps its first value and sets the flag
/// instead of failing.
#[derive(Clone, Copy)]
struct NodeSeed<'f>(Option<&'f Cell<bool>>);

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor(self))
    }
}

struct NodeVisitor<'f>(NodeSeed<'f>);

impl<'de> Visitor<'de> for NodeVisitor<'_> {
    type Value = Node;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        self.0.deserialize(deserializer)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(number(Number::from(n)))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(number(Number::from(n)))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Node, E> {
        Ok(number(Number::from(n)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self.0)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        // Keys are compared as serde_yaml compares them (typed, tags included), so `1` and "1"
        // stay two keys and a repeat fails with serde_yaml's own message.
        let mut keys: Vec<Value> = Vec::new();
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Value>()? {
            if keys.contains(&key) {
                let NodeSeed(Some(repeated)) = self.0 else {
                    return Err(de::Error::custom(DuplicateKey(&key)));
                };
                repeated.set(true);
                map.next_value::<de::IgnoredAny>()?;
                continue;
            }
            let value = map.next_value_seed(self.0)?;
            entries.push((key_text(&key), value));
            keys.push(key);
        }
        Ok(Node::Map(entries))
    }

    /// A tagged value: tags are not part of the format, so it is read as if untagged.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Node, A::Error> {
        let (_tag, variant): (de::IgnoredAny, _) = data.variant()?;
        variant.newtype_variant_seed(self.0)
    }
}

fn number(n: Number) -> Node {
    Node::Num {
        text: n.to_string(),
        int: n.as_i64(),
    }
}

/// The text of a mapping key: keys that are not strings are converted to their text.
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

/// serde_yaml's message for a repeated mapping key.
struct DuplicateKey<'a>(&'a Value);

impl fmt::Display for DuplicateKey<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("duplicate entry ")?;
        match self.0 {
            Value::Null => formatter.write_str("with null key"),
            Value::Bool(b) => write!(formatter, "with key `{b}`"),
            Value::Number(n) => write!(formatter, "with key {n}"),
            Value::String(s) => write!(formatter, "with key {s:?}"),
            Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => {
                formatter.write_str("in YAML map")
            }
        }
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
        assert!(err.message.contains("tab character"), "{}", err.message);
        let err = parse("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!(err.code, "duplicate-key");
        assert_eq!(err.message, "duplicate key \"c\"");
        let err = parse("x: 99999999999999999999999\n").unwrap_err();
        assert_eq!(
            err.message,
            "invalid YAML: the number 99999999999999999999999 is too large"
        );
    }

    /// The serde_yaml reading of `text`, for comparison with the fast path. It is also checked
    /// against the reading through `serde_yaml::Value` that the loader used before.
    fn slow(text: &str) -> Option<Node> {
        fn convert(value: Value) -> Node {
            match value {
                Value::Null => Node::Null,
                Value::Bool(b) => Node::Bool(b),
                Value::Number(n) => number(n),
                Value::String(s) => Node::Str(s),
                Value::Sequence(items) => Node::Seq(items.into_iter().map(convert).collect()),
                Value::Mapping(map) => Node::Map(
                    map.into_iter()
                        .map(|(k, v)| (key_text(&k), convert(v)))
                        .collect(),
                ),
                Value::Tagged(tagged) => convert(tagged.value),
            }
        }
        let node = serde_yaml::from_str::<Node>(text);
        let value = serde_yaml::from_str::<Value>(text);
        match (&node, value) {
            (Ok(node), Ok(value)) => assert_eq!(*node, convert(value), "{text:?}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text:?}"),
            (a, b) => panic!("{text:?}: {a:?} vs {b:?}"),
        }
        node.ok()
    }

    /// Every document the fast path takes, it reads exactly as serde_yaml does.
    fn assert_same(text: &str) {
        if let Some(node) = fast::parse(text, false).map(|(node, _)| node) {
            assert_eq!(Some(node), slow(text), "{text:?}");
        }
    }

    #[test]
    fn fast_path_reads_scalars_as_serde_yaml() {
        const SCALARS: &[&str] = &[
            "",
            "~",
            "null",
            "Null",
            "NULL",
            "nULL",
            "true",
            "True",
            "TRUE",
            "tRUE",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "0",
            "-0",
            "+0",
            "007",
            "-007",
            "0755",
            "1",
            "-1",
            "+1",
            "++1",
            "+-1",
            "1_000",
            "0x1F",
            "-0x1F",
            "0x-1",
            "0o17",
            "-0o17",
            "0b101",
            "-0b101",
            "0xZZ",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
            "1.0",
            "1.50",
            "-1.5",
            "+1.5",
            ".5",
            "5.",
            "1e3",
            "1E3",
            "-1e-3",
            "1e400",
            ".inf",
            ".Inf",
            "-.inf",
            "+.inf",
            ".nan",
            ".NaN",
            "nan",
            "inf",
            "infinity",
            "1.2.3",
            "1st",
            "-",
            "-foo",
            ".",
            ".x",
            "0.0",
            "-0.0",
            "1:2",
            "2024-01-01",
            "12:30",
        ];
        for scalar in SCALARS {
            for text in [
                format!("{scalar}\n"),
                format!("k: {scalar}\n"),
                format!("- {scalar}\n- '{scalar}'\n- \"{scalar}\"\n"),
                format!("{{a: [{scalar}]}}\n"),
                format!("{scalar}: v\n"),
            ] {
                assert_same(&text);
                slow(&text);
                // Only number-like scalars, non-string keys and empty documents leave the fast
                // path.
                let numeric = scalar.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c));
                let at_start = text.starts_with(scalar);
                assert!(
                    fast::parse(&text, false).is_some() || numeric || at_start,
                    "{text:?} left the fast path"
                );
            }
        }
    }

    #[test]
    fn fast_path_hands_over_what_it_does_not_handle() {
        for text in [
            "a: 1\na: 2\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: !custom {b: 1}\n",
            "1: a\n",
            "? [a]\n: b\n",
            "a: 1\n---\nb: 2\n",
            "a: [\n",
            "",
            "# only a comment\n",
            "x: 99999999999999999999999\n",
        ] {
            assert_eq!(
                fast::parse(text, false).map(|(node, _)| node),
                None,
                "{text:?}"
            );
        }
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(fast::parse(&deep, false).map(|(node, _)| node), None);
        let many: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        assert_same(&many);
        assert_eq!(
            fast::parse(&format!("{many}k7: again\n"), false).map(|(node, _)| node),
            None
        );
        // Documents the fast path hands over still parse, through serde_yaml.
        assert_eq!(parse("").unwrap(), Node::Null);
        assert!(parse("a: &x 1\nb: *x\n").is_ok());
    }

    #[test]
    fn fast_path_reads_fixtures_and_builtins_as_serde_yaml() {
        fn visit(dir: &std::path::Path, texts: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    visit(&path, texts);
                } else if matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                ) && let Ok(text) = std::fs::read_to_string(&path)
                {
                    texts.push(text);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        visit(&root.join("tests/fixtures"), &mut texts);
        visit(&root.join("workflows"), &mut texts);
        assert!(texts.len() > 20);
        let mut fast_count = 0;
        for text in &texts {
            assert_same(text);
            slow(text);
            fast_count += usize::from(fast::parse(text, false).map(|(node, _)| node).is_some());
        }
        assert!(
            fast_count > texts.len() / 2,
            "{fast_count} of {}",
            texts.len()
        );
        // Line-level mutations of every fixture.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for text in &texts {
            let lines: Vec<&str> = text.lines().collect();
            for _ in 0..20 {
                let mut mutated = lines.clone();
                if mutated.is_empty() {
                    break;
                }
                let at = next() as usize % mutated.len();
                match next() % 3 {
                    0 => {
                        mutated.remove(at);
                    }
                    1 => mutated.insert(at, lines[next() as usize % lines.len()]),
                    _ => mutated.swap(at, next() as usize % lines.len()),
                }
                let mutated = mutated.join("\n");
                assert_same(&mutated);
                slow(&mutated);
            }
        }
    }
}
