//! End-to-end proof that shell quoting keeps values inert: render real command templates with
//! hostile values, run them with `sh -c`, and check that the output is the literal value and that
//! nothing the values ask for has happened.

use std::path::Path;
use std::process::Command;

use super::{Vars, render};

/// Values that try to break out of every quoting context.
const HOSTILE: &[&str] = &[
    "it's \"ok\"",
    "$(touch pwned)",
    "`touch pwned`",
    "'; touch pwned; '",
    "\"; touch pwned; \"",
    "a\nb; touch pwned",
    "x` ; touch pwned ; `",
    "x) ; touch pwned ; (",
    "\\",
    "\\\\\"",
    "a\\`b$c\"d'e",
    "$HOME ${HOME} $((1+1))",
    "* ? [a] ~ {a,b}",
    "-n",
    "",
    " leading and trailing ",
    "é ü 漢字",
    "tab\there",
    "#not a comment",
    "\n",
    "line\ntouch pwned #",
];

fn run(dir: &Path, command: &str) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn check(template: &str, expect: impl Fn(&str) -> String) {
    for value in HOSTILE {
        let dir = tempfile::tempdir().unwrap();
        let mut vars = Vars::new();
        vars.set("x", *value);
        let command = render(template, &vars, true).unwrap();
        let got = run(dir.path(), &command);
        assert_eq!(
            got,
            expect(value),
            "template {template:?}, value {value:?}, command {command:?}"
        );
        assert!(
            !dir.path().join("pwned").exists(),
            "{command:?} ran the value"
        );
    }
}

/// What `$(…)` and backticks do to output: trailing newlines are removed.
fn substituted(value: &str) -> String {
    value.trim_end_matches('\n').to_owned()
}

#[test]
fn unquoted() {
    check("printf '%s' {{x}}", str::to_owned);
    check("printf '%s|' a{{x}}b", |v| format!("a{v}b|"));
}

#[test]
fn double_quoted() {
    check("printf '%s' \"{{x}}\"", str::to_owned);
    check("printf '%s' \"pre {{x}} post\"", |v| {
        format!("pre {v} post")
    });
}

#[test]
fn command_substitution() {
    check("printf '%s' \"$(printf '%s' {{x}})\"", substituted);
    check("printf '%s' \"$(printf '%s' \"{{x}}\")\"", substituted);
    check("printf '%s' \"$( (printf '%s' {{x}}) )\"", substituted);
}

#[test]
fn backticks() {
    check("printf '%s' \"`printf '%s' {{x}}`\"", substituted);
    check("printf '%s' \"`printf '%s' \"{{x}}\"`\"", substituted);
}

#[test]
fn comments_and_continuations() {
    check("printf ok # {{x}}", |_| "ok".to_owned());
    check("printf '%s' \\\\{{x}}", str::to_owned);
    check("printf '%s' \"\\\\{{x}}\"", str::to_owned);
}

#[test]
fn placeholders_next_to_quotes() {
    check("printf '%s' 'a'{{x}}'b'", |v| format!("a{v}b"));
    check("printf '%s' \"a\"{{x}}\"b\"", |v| format!("a{v}b"));
}
