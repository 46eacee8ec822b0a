//! A small hand-written lexer for the mustache tokens of a workflow template.
//!
//! Workflows may only use a handful of Handlebars constructs (workflow-format.md §8.1), so a
//! linear scan that finds `{{…}}` tags and classifies them is enough to analyse and rewrite a
//! template. It is far cheaper than running Handlebars' PEG parser on every field of every step,
//! which matters for `--validate` on large workflows. Whatever this lexer does not understand is
//! flagged as [`Piece::suspicious`] so the caller can ask Handlebars for the real syntax error.
//!
//! Escapes follow Handlebars exactly: `\{{` (and `\{{{{`) is a literal, and a run of two or more
//! backslashes before `{{` loses one backslash and leaves the tag live.

use std::borrow::Cow;
use std::ops::Range;

/// One piece of a template: literal text or a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Literal text. `out` is what Handlebars writes for it (escape backslashes removed).
    Text {
        src: Range<usize>,
        out: Cow<'a, str>,
    },
    /// A `{{…}}` tag starting at `src.start`; `tilde` marks whitespace control (`{{~x~}}`).
    /// `opens` names the block a `{{#…}}` tag opens, allowed or not, so nesting can be checked.
    Tag {
        src: Range<usize>,
        tag: Tag<'a>,
        tilde: (bool, bool),
        opens: Option<&'a str>,
    },
}

/// What a tag means, as far as workflow templates are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tag<'a> {
    /// `{{name}}`, `{{ name }}` or `{{{name}}}`.
    Var(&'a str),
    /// `{{raw name}}`.
    Raw(&'a str),
    /// `{{#if name}}` or `{{#unless name}}`.
    Open { helper: Block, name: &'a str },
    /// `{{else}}`.
    Else,
    /// `{{/if}}`, `{{/unless}}` (or a wrong name, which the structure check reports).
    Close(&'a str),
    /// `{{! … }}` or `{{!-- … --}}`: writes nothing.
    Comment,
    /// A construct workflows may not use; the text is the helper (or path) to name.
    Unknown(String),
    /// Something malformed. The message is used only when Handlebars accepts the template.
    Invalid(String),
}

/// The two block helpers workflows may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    If,
    Unless,
}

impl Block {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Block::If => "if",
            Block::Unless => "unless",
        }
    }
}

/// The pieces of a template, plus whether the lexer met something it cannot vouch for.
pub(crate) struct Lexed<'a> {
    pub pieces: Vec<Piece<'a>>,
    /// True when Handlebars may well reject the template (unterminated tags, quotes or
    /// parentheses inside tags, raw blocks, …): the caller should compile it to find out.
    pub suspicious: bool,
}

/// Whether `text` has a `{{`, i.e. is a template rather than plain text.
pub(crate) fn has_tag(text: &str) -> bool {
    find(text, "{{").is_some()
}

/// Byte offset of the first `needle` (not empty) in `hay`. A scan for the needle's first byte:
/// cheaper than the general substring search for the two or three bytes of template syntax.
fn find(hay: &str, needle: &str) -> Option<usize> {
    let (bytes, needle) = (hay.as_bytes(), needle.as_bytes());
    let first = *needle.first()?;
    let mut at = 0;
    while let Some(i) = bytes[at..].iter().position(|&b| b == first) {
        let start = at + i;
        if bytes[start..].starts_with(needle) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// Splits `text` into pieces.
pub(crate) fn lex(text: &str) -> Lexed<'_> {
    let mut lexer = Lexer {
        text,
        pieces: Vec::new(),
        suspicious: false,
    };
    lexer.run();
    Lexed {
        pieces: lexer.pieces,
        suspicious: lexer.suspicious,
    }
}

struct Lexer<'a> {
    text: &'a str,
    pieces: Vec<Piece<'a>>,
    suspicious: bool,
}

impl<'a> Lexer<'a> {
    fn run(&mut self) {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut text_start = 0;
        // Byte positions of backslashes Handlebars drops from the current text run.
        let mut dropped: Vec<usize> = Vec::new();
        let mut pos = 0;
        while let Some(found) = find(&text[pos..], "{{") {
            let at = pos + found;
            let backslashes = bytes[text_start..at]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            if backslashes == 1 {
                // `\{{` (or `\{{{{`) is literal text; the backslash goes away.
                dropped.push(at - 1);
                pos = at + 2;
                if text[pos..].starts_with("{{") {
                    pos += 2;
                }
                continue;
            }
            if backslashes >= 2 {
                dropped.push(at - backslashes);
            }
            self.push_text(text_start..at, &dropped);
            dropped.clear();
            let end = self.tag(at);
            text_start = end;
            pos = end;
        }
        self.push_text(text_start..text.len(), &dropped);
    }

    fn push_text(&mut self, src: Range<usize>, dropped: &[usize]) {
        if src.is_empty() {
            return;
        }
        let raw = &self.text[src.clone()];
        let out = if dropped.is_empty() {
            Cow::Borrowed(raw)
        } else {
            let mut s = String::with_capacity(raw.len());
            let mut last = src.start;
            for &d in dropped {
                s.push_str(&self.text[last..d]);
                last = d + 1;
            }
            s.push_str(&self.text[last..src.end]);
            Cow::Owned(s)
        };
        self.pieces.push(Piece::Text { src, out });
    }

    /// Lexes the tag at `at` (which starts with `{{`) and returns where the text after it starts.
    fn tag(&mut self, at: usize) -> usize {
        let rest = &self.text[at..];
        if rest.starts_with("{{{{") {
            // A raw block: never allowed, and its body is opaque to Handlebars, so stop here.
            self.suspicious = true;
            let name: String = rest
                .trim_start_matches("{{{{")
                .trim_start_matches(['~', ' ', '\t', '\r', '\n'])
                .chars()
                .take_while(|c| is_name_char(*c))
                .collect();
            let tag = Tag::Unknown(format!("{{{{{{{{{name}}}}}}}}}"));
            self.push_tag(at..self.text.len(), tag, (false, false), None);
            return self.text.len();
        }
        if let Some(body) = rest.strip_prefix("{{!") {
            let close = if body.starts_with("--") { "--}}" } else { "}}" };
            return match find(body, close) {
                Some(i) => {
                    let end = at + 3 + i + close.len();
                    self.push_tag(at..end, Tag::Comment, (false, false), None);
                    end
                }
                None => self.unterminated(at),
            };
        }
        let (open, close) = if rest.starts_with("{{{") {
            (3, "}}}")
        } else {
            (2, "}}")
        };
        let Some(len) = find(&rest[open..], close) else {
            return self.unterminated(at);
        };
        let end = at + open + len + close.len();
        let inner = &rest[open..open + len];
        let (inner, tilde) = strip_tildes(inner);
        // A `}` or `{` left inside usually means a brace-count mismatch such as `{{x}}}`.
        if inner.contains(['{', '}']) {
            self.suspicious = true;
        }
        let tag = if open == 3 {
            classify_triple(inner)
        } else {
            classify(inner)
        };
        if matches!(tag, Tag::Invalid(_)) || inner.contains(['"', '\'', '(', ')', '[', '=', '|']) {
            self.suspicious = true;
        }
        let opens = inner
            .trim_start()
            .strip_prefix('#')
            .and_then(|rest| args(rest).next());
        self.push_tag(at..end, tag, tilde, opens);
        end
    }

    fn push_tag(
        &mut self,
        src: Range<usize>,
        tag: Tag<'a>,
        tilde: (bool, bool),
        opens: Option<&'a str>,
    ) {
        self.pieces.push(Piece::Tag {
            src,
            tag,
            tilde,
            opens,
        });
    }

    fn unterminated(&mut self, at: usize) -> usize {
        self.suspicious = true;
        let tag = Tag::Invalid("unterminated \"{{\"".to_owned());
        self.push_tag(at..self.text.len(), tag, (false, false), None);
        self.text.len()
    }
}

/// Strips whitespace-control `~` from both ends of a tag body.
fn strip_tildes(inner: &str) -> (&str, (bool, bool)) {
    let (inner, left) = match inner.strip_prefix('~') {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    let (inner, right) = match inner.strip_suffix('~') {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    (inner, (left, right))
}

/// `{{{x}}}` is treated exactly like `{{x}}`; the other sigils have no meaning there.
fn classify_triple(inner: &str) -> Tag<'_> {
    match inner.trim_start().chars().next() {
        Some('#' | '/' | '!' | '>' | '^' | '*' | '&') => {
            Tag::Invalid("unexpected character after \"{{{\"".to_owned())
        }
        _ => classify(inner),
    }
}

/// Classifies the body of a `{{…}}` tag (without braces and `~`).
fn classify(inner: &str) -> Tag<'_> {
    let body = inner.trim();
    let Some(first) = body.chars().next() else {
        return Tag::Invalid("empty tag \"{{}}\"".to_owned());
    };
    match first {
        '#' => classify_block(body[1..].trim_start()),
        '/' => Tag::Close(body[1..].trim()),
        '^' => Tag::Unknown("^".to_owned()),
        '>' | '*' | '&' => {
            let word = args(body[1..].trim_start()).next().unwrap_or("");
            Tag::Unknown(format!("{first}{word}"))
        }
        _ => classify_expression(body),
    }
}

fn classify_block(body: &str) -> Tag<'_> {
    if let Some(sigil @ ('>' | '*')) = body.chars().next() {
        let word = args(&body[1..]).next().unwrap_or("");
        return Tag::Unknown(format!("{sigil}{word}"));
    }
    let mut words = args(body);
    let helper = words.next().unwrap_or("");
    let block = match helper {
        "if" => Block::If,
        "unless" => Block::Unless,
        "" => return Tag::Invalid("missing helper name after \"{{#\"".to_owned()),
        other => return Tag::Unknown(helper_name(other)),
    };
    match single_name(helper, words) {
        Ok(name) => Tag::Open {
            helper: block,
            name,
        },
        Err(tag) => tag,
    }
}

fn classify_expression(body: &str) -> Tag<'_> {
    let mut words = args(body);
    let head = words.next().unwrap_or("");
    match head {
        "else" => {
            return match words.next() {
                None => Tag::Else,
                Some(next) => Tag::Unknown(format!("else {}", helper_name(next))),
            };
        }
        "raw" => {
            return match single_name("raw", words) {
                Ok(name) => Tag::Raw(name),
                Err(tag) => tag,
            };
        }
        "if" | "unless" => {
            return Tag::Invalid(format!(
                "\"{head}\" must be a block: {{{{#{head} name}}}}…{{{{/{head}}}}}"
            ));
        }
        _ => {}
    }
    if words.next().is_some() {
        return Tag::Unknown(helper_name(head));
    }
    match name_problem(head) {
        None => Tag::Var(head),
        Some(tag) => tag,
    }
}

/// The one variable name a `raw`, `if` or `unless` takes.
fn single_name<'a>(
    helper: &str,
    mut words: impl Iterator<Item = &'a str>,
) -> Result<&'a str, Tag<'a>> {
    let Some(name) = words.next() else {
        return Err(Tag::Invalid(format!("\"{helper}\" needs a variable name")));
    };
    if let Some(tag) = name_problem(name) {
        return Err(tag);
    }
    if let Some(extra) = words.next() {
        return Err(match name_problem(extra) {
            Some(tag) => tag,
            None => Tag::Invalid(format!("\"{helper}\" takes one variable name, found more")),
        });
    }
    Ok(name)
}

/// Why `word` is not a variable name, as the tag to report; `None` when it is one. A name may
/// be a dotted path into a JSON capture (`review.verdict`, `review.issues.0`): segments after
/// the first are names or array indexes. Whether the capture is JSON is the validator's call.
fn name_problem(word: &str) -> Option<Tag<'static>> {
    if word.is_empty() {
        return Some(Tag::Invalid("empty name".to_owned()));
    }
    let mut segments = word.split('.');
    let root_ok = segments.next().is_some_and(is_plain_name);
    if root_ok
        && segments
            .all(|s| !s.is_empty() && (is_plain_name(s) || s.bytes().all(|b| b.is_ascii_digit())))
    {
        return None;
    }
    Some(Tag::Unknown(helper_name(word)))
}

/// The Handlebars path of a name, each segment bracketed: `[review].[verdict]`.
pub(crate) fn bracketed(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, segment) in name.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push('[');
        out.push_str(segment);
        out.push(']');
    }
    out
}

/// The name to show for something that is not allowed: the head of a subexpression, or the word.
fn helper_name(word: &str) -> String {
    match word.strip_prefix('(') {
        Some(inner) => args(inner.trim_end_matches(')'))
            .next()
            .unwrap_or("(")
            .to_owned(),
        None => word.to_owned(),
    }
}

/// A single-segment Handlebars path that is not a literal or `this`.
fn is_plain_name(word: &str) -> bool {
    word.chars().all(is_name_char)
        && !matches!(word, "this" | "true" | "false" | "null")
        && !word.starts_with(|c: char| c.is_ascii_digit() || c == '-')
}

/// Handlebars' `symbol_char`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':') || !c.is_ascii()
}

/// Splits a tag body into arguments, keeping quoted strings and parenthesised subexpressions whole.
fn args(body: &str) -> impl Iterator<Item = &str> {
    let mut rest = body;
    std::iter::from_fn(move || {
        rest = rest.trim_start();
        let first = rest.chars().next()?;
        let len = match first {
            '"' | '\'' => rest[1..].find(first).map_or(rest.len(), |i| i + 2),
            '(' => {
                let mut depth = 0usize;
                rest.char_indices()
                    .find_map(|(i, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth = depth.saturating_sub(1),
                            _ => {}
                        }
                        (depth == 0).then_some(i + 1)
                    })
                    .unwrap_or(rest.len())
            }
            _ => rest.find(char::is_whitespace).unwrap_or(rest.len()),
        };
        let (word, tail) = rest.split_at(len);
        rest = tail;
        Some(word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(text: &str) -> Vec<Tag<'_>> {
        lex(text)
            .pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::Tag { tag, .. } => Some(tag),
                Piece::Text { .. } => None,
            })
            .collect()
    }

    fn out(text: &str) -> String {
        lex(text)
            .pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::Text { out, .. } => Some(out.into_owned()),
                Piece::Tag { .. } => None,
            })
            .collect()
    }

    #[test]
    fn find_agrees_with_str_find() {
        for hay in [
            "", "{", "a{b{{c", "{{", "x}}}y}}", "é{{ü}}", "{-{--}}", "--}",
        ] {
            for needle in ["{{", "}}", "}}}", "--}}"] {
                assert_eq!(find(hay, needle), hay.find(needle), "{hay:?} {needle:?}");
            }
            assert_eq!(has_tag(hay), hay.contains("{{"));
        }
    }

    #[test]
    fn classifies_allowed_tags() {
        let text =
            "{{a}}{{ b }}{{{c}}}{{raw d}}{{#if e}}{{else}}{{/if}}{{#unless f}}{{/unless}}{{! hi }}";
        assert_eq!(
            tags(text),
            vec![
                Tag::Var("a"),
                Tag::Var("b"),
                Tag::Var("c"),
                Tag::Raw("d"),
                Tag::Open {
                    helper: Block::If,
                    name: "e"
                },
                Tag::Else,
                Tag::Close("if"),
                Tag::Open {
                    helper: Block::Unless,
                    name: "f"
                },
                Tag::Close("unless"),
                Tag::Comment,
            ]
        );
        assert!(!lex(text).suspicious);
    }

    #[test]
    fn escapes_follow_handlebars() {
        assert_eq!(tags(r"\{{a}}"), vec![]);
        assert_eq!(out(r"x\{{a}}y"), "x{{a}}y");
        assert_eq!(out(r"\{{{{a}}"), "{{{{a}}");
        assert_eq!(tags(r"\\{{a}}"), vec![Tag::Var("a")]);
        assert_eq!(out(r"\\{{a}}"), r"\");
        assert_eq!(out(r"\\\{{a}}"), r"\\");
    }

    #[test]
    fn names_unknown_constructs() {
        assert_eq!(
            tags("{{#each xs}}{{/each}}")[0],
            Tag::Unknown("each".into())
        );
        assert_eq!(
            tags("{{#if (eq a b)}}{{/if}}")[0],
            Tag::Unknown("eq".into())
        );
        assert_eq!(tags("{{a.b}}")[0], Tag::Var("a.b"));
        assert_eq!(tags("{{a.b.0}}")[0], Tag::Var("a.b.0"));
        assert_eq!(tags("{{a..b}}")[0], Tag::Unknown("a..b".into()));
        assert_eq!(tags("{{a.}}")[0], Tag::Unknown("a.".into()));
        assert_eq!(tags("{{this.b}}")[0], Tag::Unknown("this.b".into()));
        assert_eq!(tags("{{0.b}}")[0], Tag::Unknown("0.b".into()));
        assert_eq!(tags("{{this}}")[0], Tag::Unknown("this".into()));
        assert_eq!(tags("{{@index}}")[0], Tag::Unknown("@index".into()));
        assert_eq!(tags("{{> header}}")[0], Tag::Unknown(">header".into()));
        assert_eq!(tags("{{lookup a b}}")[0], Tag::Unknown("lookup".into()));
        assert_eq!(tags(r#"{{raw "x y"}}"#)[0], Tag::Unknown(r#""x y""#.into()));
        assert_eq!(
            tags("{{{{raw}}}}x{{{{/raw}}}}")[0],
            Tag::Unknown("{{{{raw}}}}".into())
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for text in [
            "{{",
            "{{{",
            "}}}}",
            "\\",
            "{{\\",
            "é{{é}}é",
            "{{~}}",
            "{{#}}",
            "{{/}}",
            "{{(}}",
            "{{\"}}",
        ] {
            let _ = lex(text);
        }
        assert!(lex("a {{b").suspicious);
    }
}
