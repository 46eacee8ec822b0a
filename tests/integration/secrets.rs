//! Secrets never appear in clear outside `state.json` (runs-and-state.md §8): a run that uses
//! them everywhere — a secret param of the root and one of a sub-workflow, a for-each over items
//! that contain them, a workdir failure, an agent step, a token-shaped string — and every channel
//! it writes to: stdout, stderr (with the debug log on), every file of the run dir, `list`,
//! `list --json`, `log`, `log --json`, `show`, `show --json`, and `--dry-run` as text and JSON.

use std::path::Path;

use crate::run_support::wf;
use crate::test::{Output, Test};

/// The root workflow's `secret: true` param.
const ROOT_SECRET: &str = "hunter2-TOP-secret-77";
/// The sub-workflow's `secret: true` param, passed as a literal: only the child declares it.
const CHILD_SECRET: &str = "child-only-secret-9431";
/// A token shape nobody declared.
const TOKEN: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
const CLEAR: [&str; 3] = [ROOT_SECRET, CHILD_SECRET, TOKEN];

fn secret_everywhere() -> Test {
    let root = format!(
        r#"name: w
params:
  - {{name: token, secret: true}}
steps:
  - id: shout
    command: echo "out {{{{token}}}} {TOKEN}"; echo "err {{{{token}}}}" >&2
  - id: grab
    command: printf '%s' "{{{{token}}}}"
    capture: got
  - id: each
    loop: {{over: "items/*.txt", as: item}}
    steps:
      - id: show
        command: echo "item {{{{item}}}} uses {{{{got}}}}"
  - id: nowhere
    command: "true"
    workdir: "missing-{{{{token}}}}"
    continue_on_failure: true
  - id: ask
    mode: headless
    prompt: "Use the token {{{{token}}}} please"
  - id: call
    workflow: child.yaml
    params: {{key: "{CHILD_SECRET}"}}
"#
    );
    let child = r#"name: child
params:
  - {name: key, secret: true}
steps:
  - id: echo-key
    command: echo "child {{key}}"; echo "child err {{key}}" >&2
  - id: per-item
    loop: {over: "child/*.txt", as: f}
    steps:
      - {id: see, command: "echo {{f}}"}
  - id: lost
    command: "true"
    workdir: "gone-{{key}}"
    continue_on_failure: true
  - id: agent
    mode: headless
    prompt: "child key {{key}}"
"#;
    let script = format!(
        "- [{{stderr: \"agent saw {ROOT_SECRET}\"}}, {{text: \"the key is {ROOT_SECRET}\"}}]\n\
         - [{{stderr: \"agent saw {CHILD_SECRET}\"}}, {{text: \"child key is {CHILD_SECRET}\"}}]\n"
    );
    Test::new()
        .fake_clis(&["claude"])
        .fake_script(&script)
        .write(&wf("w"), root)
        .write(".agent-runner/workflows/child.yaml", child)
        .write(&format!("items/{ROOT_SECRET}.txt"), "")
        .write(&format!("child/{CHILD_SECRET}.txt"), "")
}

/// Panics when `text` (from `channel`) shows a secret in clear.
fn assert_hidden(channel: &str, text: &str) {
    for clear in CLEAR {
        assert!(
            !text.contains(clear),
            "{channel} shows {clear:?} in clear:\n{text}"
        );
    }
}

/// Every file under `dir` but `state.json`, with its path.
fn files_except_state(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read run dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_except_state(&path));
        } else if path.file_name().is_some_and(|n| n != "state.json") {
            let bytes = std::fs::read(&path).expect("read run file");
            files.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    files
}

fn check_output(what: &str, out: &Output) {
    assert_hidden(&format!("{what} stdout"), &out.stdout);
    assert_hidden(&format!("{what} stderr"), &out.stderr);
}

#[test]
fn no_channel_of_a_run_shows_a_secret_in_clear() {
    // The debug log is one more channel: its events carry rendered commands and argv.
    let out = secret_everywhere()
        .env("AGENT_RUNNER_LOG", "debug")
        .args(["w", &format!("token={ROOT_SECRET}")])
        .run();
    assert!(
        out.stderr.contains("spawning shell command"),
        "{}",
        out.stderr
    );
    check_output("run", &out);
    // The run did meet every secret: each sink had something to hide.
    for shown in [
        "==> 3/6 each > #1/1 items/[REDACTED].txt",
        "failed: workdir",
        "[REDACTED]",
    ] {
        assert!(out.stderr.contains(shown), "{shown:?} in:\n{}", out.stderr);
    }
    assert!(
        out.stdout.contains("out [REDACTED] [REDACTED]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("child key is [REDACTED]"),
        "{}",
        out.stdout
    );
    let state = std::fs::read_to_string(out.run_dir().join("state.json")).unwrap();
    assert!(state.contains(ROOT_SECRET) && state.contains(CHILD_SECRET));

    let files = files_except_state(&out.run_dir());
    assert!(files.len() > 10, "{files:?}");
    for (path, text) in &files {
        assert_hidden(path, text);
    }
    let mut out = out;
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["log"],
        vec!["log", "--json"],
        vec!["show"],
        vec!["show", "--json"],
    ] {
        let mut test = out.again();
        for arg in &args {
            test = test.arg(arg);
        }
        let next = test.run();
        assert!(!next.stdout.is_empty(), "{args:?} printed nothing");
        check_output(&args.join(" "), &next);
        out = next;
    }
}

#[test]
fn dry_run_text_and_json_show_no_secret_in_clear() {
    for json in [false, true] {
        let mut test =
            secret_everywhere().args(["--dry-run", "w", &format!("token={ROOT_SECRET}")]);
        if json {
            test = test.arg("--json");
        }
        let out = test.run();
        check_output(if json { "dry-run --json" } else { "dry-run" }, &out);
        assert!(out.stdout.contains("[REDACTED]"), "{}", out.stdout);
    }
}
