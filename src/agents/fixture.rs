//! Recorded stream fixtures (`tests/fixtures/streams/<cli>/<scenario>.jsonl`), shared by the
//! `fake-agent` binary, which replays them, and the adapter tests, which parse them.
//!
//! A fixture is JSONL with placeholders: `{{session_id}}`, `{{text}}` (the final answer) and
//! `{{cwd}}` and `{{home}}`. Values are JSON-escaped, since every placeholder sits inside a JSON
//! string, except `{{json}}`, a whole JSON value (a structured answer), written as it is (`null`
//! when empty), and `{{resets_at}}`, a bare number of Unix seconds (`0` when not given). Lines
//! starting with `#` are not stream lines: `# exit: <n>` sets the exit status the real CLI had
//! (default 0), `# stderr: <line>` adds a line the real CLI printed on stderr, anything else is a
//! comment.

/// Values for the placeholders.
#[derive(Debug, Clone, Default)]
pub struct FixtureVars<'a> {
    pub session_id: &'a str,
    pub text: &'a str,
    pub cwd: &'a str,
    pub home: &'a str,
    /// When a usage limit resets, in Unix seconds.
    pub resets_at: u64,
    /// A JSON value (compact text) for `{{json}}`.
    pub json: &'a str,
}

/// A fixture with its placeholders filled in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fixture {
    /// Stream lines (stdout), without newlines.
    pub lines: Vec<String>,
    /// Lines for stderr.
    pub stderr: Vec<String>,
    pub exit: i32,
}

/// Fills in `template`.
pub fn render_fixture(template: &str, vars: &FixtureVars<'_>) -> Fixture {
    let mut fixture = Fixture::default();
    for line in template.lines() {
        if let Some(directive) = line.strip_prefix('#') {
            let directive = directive.strip_prefix(' ').unwrap_or(directive);
            if let Some(code) = directive.strip_prefix("exit:") {
                fixture.exit = code.trim().parse().unwrap_or(1);
            } else if let Some(text) = directive.strip_prefix("stderr:") {
                fixture.stderr.push(substitute(
                    text.strip_prefix(' ').unwrap_or(text),
                    vars,
                    false,
                ));
            }
        } else if !line.trim().is_empty() {
            fixture.lines.push(substitute(line, vars, true));
        }
    }
    fixture
}

fn substitute(line: &str, vars: &FixtureVars<'_>, json: bool) -> String {
    let value = |v: &str| if json { json_escape(v) } else { v.to_string() };
    line.replace("{{session_id}}", &value(vars.session_id))
        .replace("{{text}}", &value(vars.text))
        .replace("{{cwd}}", &value(vars.cwd))
        .replace("{{home}}", &value(vars.home))
        .replace("{{resets_at}}", &vars.resets_at.to_string())
        .replace(
            "{{json}}",
            if vars.json.is_empty() {
                "null"
            } else {
                vars.json
            },
        )
}

/// `text` as the inside of a JSON string literal.
pub fn json_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_directives() {
        let t = "# comment\n# exit: 3\n# stderr: gone {{session_id}}\n{\"a\":\"{{text}}\",\"id\":\"{{session_id}}\"}\n\n";
        let f = render_fixture(
            t,
            &FixtureVars {
                session_id: "s1",
                text: "say \"hi\"\n",
                cwd: "/w",
                home: "/h",
                resets_at: 0,
                json: "",
            },
        );
        assert_eq!(f.exit, 3);
        assert_eq!(f.stderr, vec!["gone s1"]);
        assert_eq!(f.lines, vec![r#"{"a":"say \"hi\"\n","id":"s1"}"#]);
    }
}
