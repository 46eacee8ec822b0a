//! `--validate`: targets, output lines, exit codes, `--json`, name resolution.

use crate::test::Test;

const OK: &str = "name: fix\nsteps:\n  - id: a\n    command: ls\n";

#[test]
fn a_valid_workflow_by_name() {
    Test::new()
        .write(".agent-runner/workflows/fix.yaml", OK)
        .args(["--validate", "fix"])
        .stdout("ok: fix (1 file checked)\n")
        .stderr("")
        .run();
}

#[test]
fn single_dash_spelling_and_many_targets() {
    Test::new()
        .write(".agent-runner/workflows/fix.yaml", OK)
        .write("other.yml", OK)
        .args(["-validate", "fix", "other.yml", "builtin:core/run-validator"])
        .stdout(
            "ok: fix (1 file checked)\nok: other.yml (1 file checked)\nok: builtin:core/run-validator (1 file checked)\n",
        )
        .run();
}

#[test]
fn no_targets_validates_the_project() {
    Test::new()
        .write(".agent-runner/workflows/fix.yaml", OK)
        .write(".agent-runner/workflows/team/review.yml", OK)
        .write(
            ".agent-runner/engines/todo.yaml",
            "format_version: 1\nname: todo\n",
        )
        .write(".agent-runner/config.yaml", "default_cli: codex\n")
        .args(["--validate"])
        .stdout(
            "ok: .agent-runner/workflows/fix.yaml (1 file checked)\n\
             ok: .agent-runner/workflows/team/review.yml (1 file checked)\n\
             ok: .agent-runner/engines/todo.yaml (1 file checked)\n\
             ok: .agent-runner/config.yaml (1 file checked)\n",
        )
        .run();
}

#[test]
fn errors_exit_3_with_a_summary() {
    Test::new()
        .write(
            ".agent-runner/workflows/fix.yaml",
            "name: fix\nsteps:\n  - id: a\n    command: ls\n  - id: b\n    steps:\n      - id: fix\n        comand: ls\n",
        )
        .args(["--validate", "fix"])
        .status(3)
        .stdout("")
        .stderr(
            ".agent-runner/workflows/fix.yaml:8:9: error[unknown-key]: steps[1].steps[0] (id \"fix\"): unknown key \"comand\" (did you mean \"command\"?)\n\
             agent-runner: validation failed: 1 error(s), 0 warning(s) in 1 file(s)\n",
        )
        .run();
}

#[test]
fn unknown_name_is_a_validation_error() {
    Test::new()
        .write(".agent-runner/workflows/fix.yaml", OK)
        .args(["--validate", "fxi"])
        .status(3)
        .stderr(
            "fxi: error[not-found]: top level: workflow \"fxi\" not found (looked in .agent-runner/workflows/, ~/.config/agent-runner/workflows/ and the built-in workflows) (did you mean \"fix\"?)\n\
             agent-runner: validation failed: 1 error(s), 0 warning(s) in 1 file(s)\n",
        )
        .run();
}

#[test]
fn missing_file_is_a_validation_error() {
    Test::new()
        .args(["--validate", "nope.yaml"])
        .status(3)
        .stderr_contains("nope.yaml: error[read-error]: top level: cannot read workflow file: No such file or directory")
        .run();
}

#[test]
fn user_dir_then_builtins() {
    Test::new()
        .write_user("workflows/mine.yaml", OK)
        .args(["--validate", "mine", "core:run-validator"])
        .stdout("ok: mine (1 file checked)\nok: core:run-validator (1 file checked)\n")
        .run();
}

#[test]
fn project_shadows_builtin() {
    Test::new()
        .write(
            ".agent-runner/workflows/core/run-validator.yaml",
            "name: x\nsteps: []\n",
        )
        .args(["--validate", "core/run-validator"])
        .status(3)
        .stderr_contains(".agent-runner/workflows/core/run-validator.yaml:2:8: error[empty-steps]")
        .run();
}

#[test]
fn composition_counts_files_once() {
    Test::new()
        .write(
            ".agent-runner/workflows/top.yaml",
            "name: top\nsteps:\n  - {id: a, workflow: sub.yaml}\n  - {id: b, workflow: sub.yaml}\n  - {id: c, workflow: builtin:core/run-validator}\n  - {id: d, workflow: sub}\n",
        )
        .write(".agent-runner/workflows/sub.yaml", OK)
        .args(["--validate", "top"])
        .stdout("ok: top (3 files checked)\n")
        .run();
}

#[test]
fn json_output() {
    let output = Test::new()
        .write(
            ".agent-runner/workflows/fix.yaml",
            "name: fix\nsteps:\n  - id: a\n    comand: ls\n    command: ls\n  - {id: b, workflow: builtin:core/run-validator}\n",
        )
        .args(["--validate", "--json", "fix"])
        .status(3)
        .run();
    assert_eq!(
        output.stdout,
        concat!(
            r#"{"format_version":1,"ok":false,"error_count":1,"warning_count":0,"targets":[{"target":"fix","kind":"workflow","workflow":"fix","ok":false,"#,
            r#""files":[".agent-runner/workflows/fix.yaml","builtin:core/run-validator"],"diagnostics":[{"severity":"error","code":"unknown-key","#,
            r#""message":"unknown key \"comand\" (did you mean \"command\"?)","file":".agent-runner/workflows/fix.yaml","line":4,"column":5,"#,
            r#""location":"steps[0] (id \"a\")","step_id":"a","help":null,"related":[]}]}]}"#,
            "\n"
        )
    );
    assert!(output.stderr.contains("error[unknown-key]"));
}

#[test]
fn engine_and_config_targets_are_classified() {
    Test::new()
        .write(".agent-runner/engines/todo.yaml", "format_version: 1\nname: other\n")
        .write(".agent-runner/config.yaml", "default_cli: clade\n")
        .args(["--validate", ".agent-runner/engines/todo.yaml", ".agent-runner/config.yaml"])
        .status(3)
        .stderr(
            ".agent-runner/engines/todo.yaml:2:7: error[engine-name]: top level: engine name \"other\" must equal the file name \"todo\"\n\
             .agent-runner/config.yaml:1:14: error[config]: top level: unknown cli \"clade\" (did you mean \"claude\"?); available: claude, codex, copilot, cursor-agent, opencode, gemini\n\
             agent-runner: validation failed: 2 error(s), 0 warning(s) in 2 file(s)\n",
        )
        .run();
}

#[test]
fn project_engine_files_are_known_engines() {
    Test::new()
        .write(
            ".agent-runner/engines/todo.yaml",
            "format_version: 1\nname: todo\noptions: {dir: {description: where}}\n",
        )
        .write(
            "wf.yaml",
            "name: wf\nengine: {type: todo, dir: src, other: x}\nsteps: [{id: a, command: ls}]\n",
        )
        .args(["--validate", "wf.yaml"])
        .status(3)
        .stderr_contains("wf.yaml:2:32: error[engine-option]: top level: engine \"todo\" has no option \"other\"")
        .run();
}

#[test]
fn warnings_do_not_fail() {
    Test::new()
        .write(
            "w.yaml",
            "name: w\nparams: [{name: p, default: x, required: true}]\nsteps: [{id: a, command: ls}]\n",
        )
        .args(["--validate", "w.yaml"])
        .stdout("ok: w.yaml (1 file checked)\n")
        .stderr("w.yaml:2:32: warning[required-with-default]: params[0] (name \"p\"): parameter \"p\" has a default, so \"required: true\" has no effect\n")
        .run();
}

#[test]
fn validate_with_resume_is_a_usage_error() {
    Test::new()
        .args(["--validate", "--resume"])
        .status(2)
        .stderr("agent-runner: error: --validate cannot be used with --resume\n")
        .run();
}

#[test]
fn dash_c_changes_the_project_dir() {
    let output = Test::new()
        .write("sub/.agent-runner/workflows/fix.yaml", OK)
        .current_dir(".")
        .arg("-C")
        .args(["project/sub", "--validate", "fix"])
        .env("AGENT_RUNNER_LOG", "off")
        .stdin("ignored")
        .stdout("ok: fix (1 file checked)\n")
        .run();
    assert_eq!(output.read("sub/.agent-runner/workflows/fix.yaml"), OK);
}
