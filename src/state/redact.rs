//! Redaction (runs-and-state.md §8): secret param values, secret-looking environment values,
//! token shapes, PEM private keys and configured regexes become `[REDACTED]`.
//!
//! Literal secrets are found by one Aho-Corasick automaton; the token shapes and configured
//! regexes form one regex alternation, compiled only when first needed: with no configured
//! regex, only for a text holding one of the shapes' fixed prefixes (`sk-`, `ghp_`, `bearer`, …),
//! so a run whose output never looks like a token never pays for compiling it. A line without any
//! match is returned borrowed without copying: this runs on every output line. Overlapping
//! matches are redacted as their union. Output files are redacted line by line, which a
//! multi-line PEM block would slip through, so [`LineRedactor`] carries "inside a private key"
//! from one line to the next.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder};

use super::error::StateError;

/// What a match is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Secret param values shorter than this are not redacted (too many false hits).
const MIN_SECRET_PARAM_CHARS: usize = 4;
/// Environment values shorter than this are not redacted.
const MIN_ENV_VALUE_CHARS: usize = 8;

/// Token shapes, each anchored at an ASCII word boundary so that `task-…` does not look like
/// `sk-…`. The PEM block runs to its END line, or to the end of the text when that is missing.
const TOKEN_SHAPES: &[&str] = &[
    r"(?-u:\b)sk-[A-Za-z0-9_-]{20,}",
    r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{30,}",
    r"(?-u:\b)github_pat_[A-Za-z0-9_]{30,}",
    r"(?-u:\b)xox[abposr]-[A-Za-z0-9-]{10,}",
    r"(?-u:\b)AKIA[0-9A-Z]{16}",
    r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
    r"(?i)(?-u:\b)bearer\s+[A-Za-z0-9._~+/-]{16,}=*",
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
];
/// A text in which none of these occurs (ASCII case ignored) cannot match a token shape.
const SHAPE_PREFIXES: &[&str] = &[
    "sk-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "akia",
    "aiza",
    "bearer",
    "-----begin",
];
const PEM_BEGIN: &str = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----";
const PEM_END: &str = r"-----END [A-Z0-9 ]*PRIVATE KEY-----";

/// Finds [`SHAPE_PREFIXES`]; `None` only if the automaton cannot be built, which makes every
/// text a candidate.
static PREFIXES: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(SHAPE_PREFIXES)
        .ok()
});
/// The token shapes alone, shared by every redactor without configured regexes.
static SHAPES: LazyLock<Result<Regex, String>> = LazyLock::new(|| patterns_regex(&[]));
static PEM_BEGIN_RE: LazyLock<Result<Regex, String>> =
    LazyLock::new(|| patterns_regex_of(PEM_BEGIN));
static PEM_END_RE: LazyLock<Result<Regex, String>> = LazyLock::new(|| patterns_regex_of(PEM_END));

/// Whether an environment variable's value is a secret, judged by its name.
pub fn is_secret_env_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["_TOKEN", "_KEY", "_SECRET", "_PASSWORD"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        || name.contains("API_KEY")
}

/// Replaces secrets in text. Build one per run; clones share it, so a secret added later (the
/// `secret: true` params of a sub-workflow) reaches every sink that holds a clone.
#[derive(Debug, Clone)]
pub struct Redactor {
    shared: Arc<RwLock<Arc<Compiled>>>,
}

/// The patterns of one [`Redactor`].
#[derive(Debug)]
struct Compiled {
    /// Finds the literal secrets (`None` when there are none).
    literal_finder: Option<AhoCorasick>,
    /// Token shapes and `extra`, compiled on first use (only when `extra` is not empty: the
    /// shapes alone are [`SHAPES`]).
    patterns: OnceLock<Result<Regex, String>>,
    /// Literal secrets, longest first, with their JSON-escaped forms.
    literals: Vec<String>,
    extra: Vec<String>,
}

impl Redactor {
    /// A redactor for `secret_values` (values of `secret: true` params), the secret-named
    /// variables of `env`, the built-in token shapes, and `extra_patterns` (the `redact` config
    /// key). An extra pattern that does not compile, or matches the empty string, is an error.
    pub fn new<S, K, V>(
        secret_values: impl IntoIterator<Item = S>,
        env: impl IntoIterator<Item = (K, V)>,
        extra_patterns: &[String],
    ) -> Result<Self, StateError>
    where
        S: AsRef<str>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut literals = secret_literals(secret_values);
        literals.extend(
            env.into_iter()
                .filter(|(name, value)| {
                    is_secret_env_name(name.as_ref())
                        && value.as_ref().chars().count() >= MIN_ENV_VALUE_CHARS
                })
                .map(|(_, value)| value.as_ref().to_string()),
        );
        for pattern in extra_patterns {
            let compiled = Regex::new(pattern).map_err(|e| StateError::RedactPattern {
                pattern: pattern.clone(),
                reason: e.to_string(),
            })?;
            if compiled.is_match("") {
                return Err(StateError::RedactPattern {
                    pattern: pattern.clone(),
                    reason: "it matches the empty string".to_string(),
                });
            }
        }
        let compiled = Compiled::build(literals, extra_patterns.to_vec())?;
        Ok(Redactor {
            shared: Arc::new(RwLock::new(Arc::new(compiled))),
        })
    }

    /// [`Redactor::new`] with the runner's own environment.
    pub fn from_process_env<S: AsRef<str>>(
        secret_values: impl IntoIterator<Item = S>,
        extra_patterns: &[String],
    ) -> Result<Self, StateError> {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::new(secret_values, env, extra_patterns)
    }

    /// A redactor with the token shapes only (no params, no environment).
    pub fn token_shapes_only() -> Result<Self, StateError> {
        Self::new(
            std::iter::empty::<&str>(),
            std::iter::empty::<(&str, &str)>(),
            &[],
        )
    }

    /// Adds secret values (a sub-workflow's `secret: true` params) to this redactor and every
    /// clone of it. Values it already hides, and short ones, change nothing.
    pub fn add_secrets<S: AsRef<str>>(
        &self,
        values: impl IntoIterator<Item = S>,
    ) -> Result<(), StateError> {
        let current = self.current();
        let new: Vec<String> = secret_literals(values)
            .into_iter()
            .filter(|v| !current.literals.contains(v))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut literals = current.literals.clone();
        literals.extend(new);
        let compiled = Arc::new(Compiled::build(literals, current.extra.clone())?);
        *self.shared.write().unwrap_or_else(PoisonError::into_inner) = compiled;
        Ok(())
    }

    fn current(&self) -> Arc<Compiled> {
        Arc::clone(&self.shared.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// `text` with every secret replaced by `[REDACTED]`; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.current().redact(text)
    }

    /// Redacts every string inside a JSON value, in place (object keys are left alone).
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(redacted) = self.redact(s) {
                    *s = redacted;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }

    /// A line-by-line redactor for one stream (one output file).
    pub fn line_redactor(&self) -> LineRedactor {
        LineRedactor {
            redactor: self.clone(),
            in_private_key: false,
        }
    }
}

/// The secret values long enough to redact. Each comes with its JSON-escaped form when that
/// differs, so that a secret with a quote or a backslash is also hidden inside JSON text.
fn secret_literals<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut literals = Vec::new();
    for value in values {
        let value = value.as_ref();
        if value.chars().count() < MIN_SECRET_PARAM_CHARS {
            continue;
        }
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or(value);
        if escaped != value {
            literals.push(escaped.to_owned());
        }
        literals.push(value.to_owned());
    }
    literals
}

impl Compiled {
    fn build(mut literals: Vec<String>, extra: Vec<String>) -> Result<Self, StateError> {
        // Longest first: where one secret contains another, the whole of it goes.
        literals.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        literals.dedup();
        let literal_finder = if literals.is_empty() {
            None
        } else {
            let finder = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&literals)
                .map_err(|e| StateError::RedactPattern {
                    pattern: "(the secret values)".to_string(),
                    reason: e.to_string(),
                })?;
            Some(finder)
        };
        Ok(Compiled {
            literal_finder,
            patterns: OnceLock::new(),
            literals,
            extra,
        })
    }

    /// The regex of the token shapes and configured patterns, if `text` may need it.
    fn patterns_for(&self, text: &str) -> Option<&Result<Regex, String>> {
        if !self.extra.is_empty() {
            return Some(self.patterns.get_or_init(|| patterns_regex(&self.extra)));
        }
        let candidate = PREFIXES.as_ref().is_none_or(|p| p.is_match(text));
        candidate.then(|| &*SHAPES)
    }

    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        if let Some(finder) = &self.literal_finder {
            spans.extend(finder.find_iter(text).map(|m| (m.start(), m.end())));
        }
        match self.patterns_for(text) {
            Some(Ok(regex)) => spans.extend(regex.find_iter(text).map(|m| (m.start(), m.end()))),
            // The patterns were checked one by one when the redactor was built; should their
            // union still not compile, hiding everything is the only safe answer.
            Some(Err(_)) => return Cow::Borrowed(REDACTED),
            None => {}
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some((start, mut end)) = spans.next() {
            while let Some(&(next_start, next_end)) = spans.peek() {
                if next_start >= end {
                    break;
                }
                end = end.max(next_end);
                spans.next();
            }
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// The token shapes and `extra` as one alternation.
fn patterns_regex(extra: &[String]) -> Result<Regex, String> {
    let alternatives: Vec<String> = TOKEN_SHAPES
        .iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
        .map(|alt| format!("(?:{alt})"))
        .collect();
    patterns_regex_of(&alternatives.join("|"))
}

fn patterns_regex_of(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(64 * 1024 * 1024)
        .build()
        .map_err(|e| e.to_string())
}

/// Whether the PEM marker `regex` (one of the statics) occurs in `line`, and where; a marker
/// that cannot be compiled (impossible for these constants) counts as found at the start, so
/// that the line is hidden rather than shown.
fn find_marker(regex: &Result<Regex, String>, marker: &str, line: &str) -> Option<(usize, usize)> {
    if !line.contains(marker) {
        return None;
    }
    match regex {
        Ok(re) => re.find(line).map(|m| (m.start(), m.end())),
        Err(_) => Some((0, line.len())),
    }
}

/// Redacts a stream one line at a time, hiding every line of a PEM private key block.
#[derive(Debug)]
pub struct LineRedactor {
    redactor: Redactor,
    in_private_key: bool,
}

impl LineRedactor {
    /// The redacted form of the next line of the stream.
    pub fn redact_line<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        if self.in_private_key {
            if let Some((_, end)) = find_marker(&PEM_END_RE, "-----END", line) {
                self.in_private_key = false;
                let rest = self.redactor.redact(&line[end..]).into_owned();
                return Cow::Owned(format!("{REDACTED}{rest}"));
            }
            return Cow::Borrowed(REDACTED);
        }
        if let Some((_, begin_end)) = find_marker(&PEM_BEGIN_RE, "-----BEGIN", line) {
            self.in_private_key =
                find_marker(&PEM_END_RE, "-----END", &line[begin_end..]).is_none();
        }
        self.redactor.redact(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Redactor {
        Redactor::token_shapes_only().unwrap()
    }

    #[test]
    fn each_token_shape_is_redacted() {
        let r = shapes();
        let cases = [
            "sk-abcdefghijklmnopqrstuvwxyz012345",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz_-0123",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "xoxb-1234567890-abcdefghij",
            "AKIAIOSFODNN7EXAMPLE",
            "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
            "Bearer abcdefghijklmnop.qrstuv==",
            "bearer   ABCDEFGHIJKLMNOP",
        ];
        for token in cases {
            let line = format!("before {token} after");
            assert_eq!(
                r.redact(&line),
                format!("before {REDACTED} after").as_str(),
                "{token}"
            );
        }
    }

    #[test]
    fn near_misses_are_left_alone() {
        let r = shapes();
        for text in [
            "sk-short",
            "task-implement-the-login-feature-now",
            "ghp_tooshort",
            "AKIAlowercase0000000",
            "bearer short",
            "nothing to see here",
        ] {
            assert!(matches!(r.redact(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn pem_private_key_block() {
        let r = shapes();
        let pem = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\ndone";
        assert_eq!(r.redact(pem), format!("key:\n{REDACTED}\ndone"));
        let open = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn";
        assert_eq!(r.redact(open), REDACTED);
        assert!(matches!(
            r.redact("-----BEGIN PUBLIC KEY-----"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn pem_block_line_by_line() {
        let r = shapes();
        let mut lines = r.line_redactor();
        let input = [
            "start",
            "-----BEGIN PRIVATE KEY-----",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            "-----END PRIVATE KEY----- tail",
            "after",
        ];
        let out: Vec<String> = input
            .iter()
            .map(|l| lines.redact_line(l).into_owned())
            .collect();
        assert_eq!(
            out,
            [
                "start",
                REDACTED,
                REDACTED,
                &format!("{REDACTED} tail"),
                "after"
            ]
        );
    }

    #[test]
    fn secret_params_and_environment() {
        let env = [
            ("GITHUB_TOKEN", "tok-12345678"),
            ("MY_API_KEY_FILE", "apikeyvalue"),
            ("db_password", "hunter2hunter2"),
            ("SHORT_SECRET", "1234567"),
            ("PATH", "/usr/bin:/bin"),
        ];
        let r = Redactor::new(["s3cr", "abc", "s3cret-longer"], env, &[]).unwrap();
        assert_eq!(r.redact("x s3cr y"), format!("x {REDACTED} y"));
        assert_eq!(r.redact("s3cret-longer"), REDACTED);
        assert_eq!(r.redact("abc"), "abc");
        assert_eq!(r.redact("t=tok-12345678"), format!("t={REDACTED}"));
        assert_eq!(r.redact("apikeyvalue"), REDACTED);
        assert_eq!(r.redact("hunter2hunter2"), REDACTED);
        assert_eq!(r.redact("1234567"), "1234567");
        assert_eq!(r.redact("/usr/bin:/bin"), "/usr/bin:/bin");
        assert_eq!(r.redact("a.b*c"), "a.b*c");
        let r = Redactor::new(["a.b*c"], std::iter::empty::<(&str, &str)>(), &[]).unwrap();
        assert_eq!(r.redact("xa.b*cx"), format!("x{REDACTED}x"));
        assert_eq!(r.redact("aXbbc"), "aXbbc");
    }

    #[test]
    fn secrets_added_later_reach_every_clone_and_json_text() {
        let r = shapes();
        let sink = r.clone();
        assert_eq!(sink.redact("a late\"one\\x"), "a late\"one\\x");
        r.add_secrets(["late\"one\\x", "ab"]).unwrap();
        assert_eq!(sink.redact("a late\"one\\x"), format!("a {REDACTED}"));
        // Inside JSON text the value is escaped; its escaped form is hidden too.
        let json = serde_json::to_string("late\"one\\x").unwrap();
        assert_eq!(sink.redact(&json), format!("\"{REDACTED}\""));
        assert_eq!(sink.redact("ab"), "ab");
    }

    #[test]
    fn overlapping_matches_are_hidden_as_their_union() {
        let r = Redactor::new(
            ["prefix-sk-abc", "zzzzyy"],
            std::iter::empty::<(&str, &str)>(),
            &[],
        )
        .unwrap();
        // The literal starts before the token shape and ends inside it.
        let line = "a prefix-sk-abcdefghijklmnopqrstuvwxyz0123 b";
        assert_eq!(r.redact(line), format!("a {REDACTED} b"));
        // Adjacent matches stay two.
        assert_eq!(r.redact("zzzzyyzzzzyy"), format!("{REDACTED}{REDACTED}"));
    }

    #[test]
    fn configured_patterns() {
        let extra = vec![r"corp-[0-9]{6}".to_string()];
        let r = Redactor::new(
            std::iter::empty::<&str>(),
            std::iter::empty::<(&str, &str)>(),
            &extra,
        )
        .unwrap();
        assert_eq!(r.redact("id corp-123456."), format!("id {REDACTED}."));
        for bad in ["(unclosed", "x*"] {
            let err = Redactor::new(
                std::iter::empty::<&str>(),
                std::iter::empty::<(&str, &str)>(),
                &[bad.to_string()],
            )
            .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid redact pattern \"{bad}\""))
            );
            assert_eq!(err.exit_code(), crate::exit::INVALID);
        }
    }

    #[test]
    fn json_strings_are_redacted_in_place() {
        let r = shapes();
        let mut v = serde_json::json!({"argv": ["x", "sk-abcdefghijklmnopqrstuvwxyz"], "n": 1, "AKIAIOSFODNN7EXAMPLE": true});
        r.redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"argv": ["x", REDACTED], "n": 1, "AKIAIOSFODNN7EXAMPLE": true})
        );
    }

    #[test]
    fn env_names() {
        for yes in [
            "GH_TOKEN",
            "AWS_SECRET",
            "X_KEY",
            "PG_PASSWORD",
            "OPENAI_API_KEY_2",
            "gh_token",
        ] {
            assert!(is_secret_env_name(yes), "{yes}");
        }
        for no in ["PATH", "KEYBOARD", "TOKEN", "HOME"] {
            assert!(!is_secret_env_name(no), "{no}");
        }
    }
}
