//! Command-line parameters of a new run (cli.md §3): positional and `key=value` binding, defaults
//! that use `{{run_id}}`, and every binding error with its usage line, exit 2, and no run started.

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, runs, wf};
use crate::test::Test;

const WORKFLOW: &str = r#"name: p
params:
  - change
  - {name: base, default: "b-{{run_id}}"}
  - {name: note, required: false}
steps:
  - id: show
    command: printf '%s|%s|%s' {{change}} {{base}} {{note}} > got.txt
"#;

#[test]
fn positional_keyed_and_default_params_are_bound() {
    let out = Test::new()
        .write(&wf("p"), WORKFLOW)
        .args(["p", "add-login", "note=a=b"])
        .run();
    let id = only_run(out.tempdir.path()).id();
    assert_eq!(out.read("got.txt"), format!("add-login|b-{id}|a=b"));
    let out = out.then().args(["p", "x", "main"]).run();
    assert_eq!(out.read("got.txt"), "x|main|");
    let out = out.then().args(["p", "--", "-dash"]).run();
    assert!(out.read("got.txt").starts_with("-dash|b-p-"));
}

#[test]
fn every_binding_error_prints_the_usage_line_exits_2_and_starts_nothing() {
    let usage = "usage: agent-runner p <change> [<base>] [<note>]\n";
    let cases: [(&[&str], &str); 5] = [
        (
            &["chnage=x"],
            "unknown parameter \"chnage\" (did you mean \"change\"?); workflow \"p\" takes: change, base, note",
        ),
        (
            &["a", "b", "c", "d"],
            "too many parameters: workflow \"p\" takes 3 (change, base, note), got 4",
        ),
        (&["base=x"], "missing required parameter \"change\""),
        (&["x", "change=y"], "parameter \"change\" is given twice"),
        (
            &["=v"],
            "invalid parameter \"=v\": the name before \"=\" is empty",
        ),
    ];
    for (args, message) in cases {
        let mut test = Test::new().write(&wf("p"), WORKFLOW).arg("p");
        for arg in args {
            test = test.arg(arg);
        }
        let out = test
            .status(2)
            .stdout("")
            .stderr(&format!("agent-runner: error: {message}\n{usage}"))
            .run();
        assert!(
            runs(out.tempdir.path()).is_empty(),
            "{args:?} started a run"
        );
        assert!(!out.project().join("got.txt").exists());
    }
}
