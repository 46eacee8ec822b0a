//! The runnable examples in `examples/`: each one is documented (a comment header with a "Run"
//! line, and a row in examples/README.md), passes `--validate`, and runs end to end the way its
//! header says: the shell-only ones as they are, the agent ones with the fake CLIs (the
//! interactive one in a pseudo-terminal, where the test types `/continue`).

use std::path::{Path, PathBuf};

use crate::builtin_support::{pty_command, run_in_pty, turns, with_fakes};
use crate::test::Test;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The top-level example workflows, sorted (`capture.yaml`, ...).
fn example_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// Copies `dir` (relative to examples/) into `test`'s project under `examples/`.
fn copy_into(mut test: Test, dir: &Path, rel: &str) -> Test {
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().to_string();
        let rel = format!("{rel}/{name}");
        if entry.path().is_dir() {
            test = copy_into(test, &entry.path(), &rel);
        } else {
            test = test.write(&rel, std::fs::read(entry.path()).unwrap());
        }
    }
    test
}

/// A project with a copy of the examples, as if run from the repository root.
fn project() -> Test {
    copy_into(Test::new(), &examples_dir(), "examples")
}

#[test]
fn every_example_is_documented() {
    let readme = std::fs::read_to_string(examples_dir().join("README.md")).unwrap();
    let files = example_files();
    assert!(files.len() >= 8, "{files:?}");
    for name in &files {
        let text = std::fs::read_to_string(examples_dir().join(name)).unwrap();
        assert!(text.starts_with("# Example: "), "{name} has no header");
        let header: String = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(
            header.contains("Run from the repository root: agent-runner"),
            "{name}: no Run line"
        );
        assert!(
            readme.contains(&format!("[{name}]({name})")),
            "{name} is not in the README"
        );
    }
}

#[test]
fn every_example_validates() {
    let mut test = project().arg("--validate");
    let mut expected = String::new();
    for name in example_files().iter().filter(|n| *n != "engine.yaml") {
        test = test.arg(&format!("examples/{name}"));
        let files = if name == "sub-workflow.yaml" { 2 } else { 1 };
        let plural = if files == 1 { "file" } else { "files" };
        expected.push_str(&format!("ok: examples/{name} ({files} {plural} checked)\n"));
    }
    test.stdout(&expected).stderr("").run();
    // The engine example and its engine, from examples/ as the project dir.
    project()
        .current_dir("project/examples")
        .args(["--validate", ".agent-runner/engines/house-rules.yaml", "engine.yaml"])
        .stdout("ok: .agent-runner/engines/house-rules.yaml (1 file checked)\nok: engine.yaml (1 file checked)\n")
        .stderr("")
        .run();
}

#[test]
fn capture_runs() {
    project()
        .args(["examples/capture.yaml"])
        .stdout(
            "it's a \"nice\" day\nit's a \"nice\" day\nsome output\ncaptured:\nsome output\n--- stderr ---\nsome error\n",
        )
        .run();
}

#[test]
fn retry_runs_until_the_check_passes() {
    project()
        .args(["examples/retry.yaml"])
        .stdout(
            "attempt 1\nattempt 0 failed; repairing\nattempt 2\nattempt 1 failed; repairing\nattempt 3\nthe check passed\n",
        )
        .run();
}

#[test]
fn retry_fails_when_the_attempts_run_out() {
    project()
        .args(["examples/retry.yaml", "succeed_on=9"])
        .status(1)
        .stdout_contains("attempt 5\n")
        .stderr_contains(
            "loop \"attempts\" ran all 5 iterations without meeting its break_if condition",
        )
        .run();
}

#[test]
fn conditions_branch_and_repeat_until_the_review_passes() {
    project()
        .args(["examples/conditions.yaml"])
        .stdout(
            "{\"kind\": \"bug\"}\nwriting a failing test for the bug\nround 0 changes the code\n{\"verdict\": \"fail\", \"round\": 0}\nround 1 changes the code\n{\"verdict\": \"pass\", \"round\": 1}\nthe review passed in round 1\n",
        )
        .run();
    project()
        .args(["examples/conditions.yaml", "kind=docs", "pass_on=1"])
        .stdout("{\"kind\": \"docs\"}\nround 0 changes the code\n{\"verdict\": \"pass\", \"round\": 0}\n")
        .stderr_contains("reproduce [skipped: when: change.kind == \"bug\"]")
        .stderr_contains("release-notes [skipped: when: change.kind != \"docs\"")
        .run();
}

#[test]
fn for_each_runs_once_per_file_in_order() {
    project()
        .args(["examples/for-each.yaml"])
        .stdout("page 0 is titled # faq\npage 1 is titled # intro\npage 2 is titled # usage\n")
        .run();
}

#[test]
fn parallel_runs_its_branches_and_reports_after_them() {
    let out = project()
        .args(["examples/parallel.yaml"])
        .stdout_contains(" examples, 0 docs\n")
        .stderr_contains("[count-docs] ==> 1/3 checks > count-docs [shell]\n")
        .run();
    let shown: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.ends_with("# Example:"))
        .collect();
    assert!(shown.len() >= 8, "{}", out.stdout);
}

#[test]
fn sub_workflow_runs_with_params_and_defaults() {
    project()
        .args(["examples/sub-workflow.yaml", "who=Ada"])
        .stdout("Hello, Ada!\nBonjour, Ada !\n")
        .run();
}

#[test]
fn flow_control_runs_and_skips() {
    project()
        .args(["examples/flow-control.yaml"])
        .stdout("lint passed\na check failed; an agent could explain why here\npublished\nflow control done\n")
        .stderr_contains("after-checks [skipped: previous step succeeded]")
        .stderr_contains("publish-again [skipped: sh: test -f")
        .run();
}

#[test]
fn sessions_run_with_the_fake_clis() {
    let out = with_fakes(project(), "")
        .args(["examples/sessions.yaml"])
        .run();
    let turns = turns(&out);
    let clis: Vec<&str> = turns.iter().map(|t| t.cli.as_str()).collect();
    assert_eq!(clis, ["claude", "claude", "codex", "claude", "codex"]);
    let id = |i: usize| turns[i].session_id.as_str();
    assert_eq!(id(1), id(0), "polish resumes the draft");
    assert_eq!(id(4), id(2), "the named reviewer session is resumed");
    assert_ne!(id(3), id(0), "second-opinion is a new session");
    turns[0].assert_prompt_has("Write a haiku about autumn to ");
}

#[test]
fn unattended_retries_its_flaky_check_and_runs_the_agents_within_their_budgets() {
    let out = with_fakes(project(), "")
        .args(["examples/unattended.yaml"])
        .stderr_contains("  retry 2/3 in ")
        .run();
    assert_eq!(out.events("step_retry").len(), 1);
    let turns = turns(&out);
    assert_eq!(turns.len(), 2);
    // claude is told what is left: the step's $0.50, then the rest of the run's $2.
    assert!(
        turns[0].argv.contains("--max-budget-usd 0.5000"),
        "{}",
        turns[0].argv
    );
    assert!(
        turns[1].argv.contains("--max-budget-usd 1.9578"),
        "{}",
        turns[1].argv
    );
    assert_eq!(out.state()["budget"]["max_cost_usd"], 2.0);
}

#[test]
fn structured_output_runs_with_the_fake_claude() {
    let out = with_fakes(
        project(),
        "- [{json: {verdict: fail, reasons: [\"more prose\"]}}]\n",
    )
    .args(["examples/structured-output.yaml"])
    .stdout_contains(
        "verdict: fail\nall of it: {\"verdict\":\"fail\",\"reasons\":[\"more prose\"]}\n",
    )
    .stdout_contains("The reviewer found problems")
    .run();
    let turns = turns(&out);
    assert_eq!(turns.len(), 1);
    turns[0].assert_prompt_has("--json-schema {\"type\":\"object\"");
    turns[0].assert_prompt_has("The examples directory has ");
}

#[test]
fn interactive_runs_in_a_terminal() {
    let script = "\
- [{print: \"planning with you\"}]
- [{write_file: {path: \"$AGENT_RUNNER_RUN_DIR/plan.md\", content: \"- pack\\n- go\\n\"}}, {text: Written.}]
";
    let test = with_fakes(project(), script);
    let root = test.path();
    let (status, screen) = run_in_pty(
        pty_command(root, &["examples/interactive.yaml"], &[]),
        &["planning with you"],
    );
    assert_eq!(status, 0, "{screen}");
    assert!(screen.contains("- pack\r\n- go"), "{screen}");
    let turns = turns(root);
    let modes: Vec<&str> = turns.iter().map(|t| t.mode.as_str()).collect();
    assert_eq!(modes, ["interactive", "headless"]);
    assert_eq!(
        turns[1].session_id, turns[0].session_id,
        "write continues the plan"
    );
}

#[test]
fn engine_adds_the_house_rules() {
    let out = with_fakes(project(), "")
        .current_dir("project/examples")
        .args(["engine.yaml"])
        .run();
    let turns = turns(&out);
    assert_eq!(turns.len(), 1);
    turns[0].assert_prompt_has(
        "Explain in one paragraph what agent-runner is for.\n\nHouse rules:\n- Answer in plain English, without jargon.\n- Keep it short.",
    );
}
