//! Every command line the documentation shows must be one the binary's argument parser accepts.
//!
//! The lines are those of ```sh (or bash, shell, console) blocks in `README.md` and every
//! `docs/*.md` whose first word (after an optional `$ ` prompt) is `agent-runner`. Each is split
//! into words as `sh` would (quotes, a trailing `# comment`) and given to `cli::parse`, the parser
//! `agent-runner` itself runs first; a usage error there (an option that does not exist, a
//! conflicting combination) fails the test, with the file and line.

use std::path::Path;

use agent_runner::cli::{ParseOutcome, parse};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `(file, line, text)` of every documented command line.
fn command_lines() -> Vec<(String, usize, String)> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(ROOT).unwrap().display().to_string();
        let mut in_shell = None;
        for (i, line) in text.lines().enumerate() {
            if let Some(fence) = line.trim_start().strip_prefix("```") {
                in_shell = match in_shell {
                    Some(_) => None,
                    None => Some(matches!(fence.trim(), "sh" | "bash" | "shell" | "console")),
                };
                continue;
            }
            let command = line.trim().strip_prefix("$ ").unwrap_or(line.trim());
            if in_shell == Some(true) && command.starts_with("agent-runner ")
                || in_shell == Some(true) && command == "agent-runner"
            {
                lines.push((name.clone(), i + 1, command.to_owned()));
            }
        }
    }
    lines
}

/// Splits a command line into words as `sh` does for plain text: single and double quotes,
/// backslashes, and a `#` comment at the start of a word.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

fn accepted(words: &[String]) -> Result<(), String> {
    match parse(words.iter().map(Into::into).collect()) {
        ParseOutcome::Usage(message) => Err(message),
        ParseOutcome::Invocation(_) | ParseOutcome::Help(_) => Ok(()),
    }
}

#[test]
fn every_documented_command_line_parses() {
    let lines = command_lines();
    assert!(lines.len() > 30, "only {} command lines found", lines.len());
    let mut failures = Vec::new();
    for (file, line, text) in &lines {
        if let Err(message) = accepted(&words(text)) {
            failures.push(format!("{file}:{line}: {text}\n    {message}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_check_refuses_options_that_do_not_exist() {
    assert_eq!(
        words(r#"agent-runner x a="b c" 'd e' f\ g # note"#),
        ["agent-runner", "x", "a=b c", "d e", "f g"]
    );
    for bad in [
        "agent-runner --bogus",
        "agent-runner --validate --max-turns 3",
        "agent-runner list --bogus",
    ] {
        assert!(accepted(&words(bad)).is_err(), "{bad} was accepted");
    }
    assert!(accepted(&words("agent-runner --dry-run demo")).is_ok());
}
