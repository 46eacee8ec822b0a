//! Quoting values for the place where a shell placeholder stands (workflow-format.md §8.5).
//!
//! [`QuoteScanner`](super::shell::QuoteScanner) says where a placeholder stands; this module
//! turns a value into the text to insert there. The rule: after the shell has parsed the
//! command, the word (or part of a word) must be exactly the value, and nothing in the value may
//! be parsed as syntax.

use super::shell::{Quote, Slot};

/// Quotes `value` for an unquoted shell position (workflow-format.md §8.5): bare when it is made
/// only of characters that are never special, `''` when empty, else single-quoted with `'\''`.
pub fn shell_quote(value: &str) -> String {
    if value.is_empty() {
        return "''".to_owned();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if value.chars().all(safe) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Escapes `value` for the inside of `"…"`: `\`, `"`, `$` and `` ` `` get a backslash.
fn double_quote_escape(value: &str) -> String {
    backslash_before(value, &['\\', '"', '$', '`'])
}

fn backslash_before(value: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text to insert for `value` at `slot`, or `None` inside single quotes and the other places
/// with no safe quoting (load-time validation reports them as `single-quoted-var` and
/// `unsafe-shell-context`).
pub(crate) fn quote_for(value: &str, slot: Slot) -> Option<String> {
    let mut text = match slot.quote {
        Quote::Unquoted => shell_quote(value),
        Quote::Double => double_quote_escape(value),
        // A newline would end the comment and let the rest of the value run as a command.
        Quote::Comment => shell_quote(&value.replace(['\n', '\r'], " ")),
        Quote::Single | Quote::Unsafe(_) => return None,
    };
    if slot.escaped {
        // The template's own backslash would escape our first character; a newline after it
        // turns the pair into a line continuation, which the shell removes.
        text.insert(0, '\n');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_table() {
        let v = "it's \"ok\"";
        let slot = |quote| Slot {
            quote,
            escaped: false,
        };
        assert_eq!(
            quote_for(v, slot(Quote::Unquoted)).as_deref(),
            Some(r#"'it'\''s "ok"'"#)
        );
        assert_eq!(
            quote_for(v, slot(Quote::Double)).as_deref(),
            Some(r#"it's \"ok\""#)
        );
        assert_eq!(quote_for(v, slot(Quote::Single)), None);
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            shell_quote("a-b/c.d_e@f%g+h=i:j,k"),
            "a-b/c.d_e@f%g+h=i:j,k"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("é"), "'é'");
    }

    #[test]
    fn layers_and_escapes() {
        let at = |quote, escaped| Slot { quote, escaped };
        assert_eq!(
            quote_for("a", at(Quote::Unquoted, true)).as_deref(),
            Some("\na")
        );
        assert_eq!(
            quote_for("a\nb", at(Quote::Comment, false)).as_deref(),
            Some("'a b'")
        );
        let arithmetic = Quote::Unsafe(super::super::shell_words::Unsafe::Arithmetic);
        assert_eq!(quote_for("1", at(arithmetic, false)), None);
    }
}
