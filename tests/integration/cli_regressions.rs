//! Regressions of the command line found by an outside trial: options that a command would
//! ignore, or that contradict each other, are refused (exit 2) instead of dropped in silence;
//! `-q` hides only the runner's own lines.

use crate::run_support::wf;
use crate::test::Test;

const ONE_STEP: &str = "name: w\nsteps:\n  - {id: a, command: echo step-output}\n";

#[test]
fn options_a_command_would_ignore_are_refused_with_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["w", "--json"],
            "--json cannot be used with a workflow run; it applies only to --validate, --dry-run, \"list\", \"show\", \"log\", \"workflows\"",
        ),
        (
            &["w", "--limit", "3"],
            "--limit cannot be used with a workflow run",
        ),
        (
            &["w", "--follow"],
            "--follow cannot be used with a workflow run",
        ),
        (&["w", "--all"], "--all cannot be used with a workflow run"),
        (
            &["--resume", "--json"],
            "--json cannot be used with --resume",
        ),
        (
            &["--dry-run", "w", "--from", "a"],
            "--from cannot be used with --dry-run",
        ),
        (
            &["--dry-run", "w", "-q"],
            "--quiet cannot be used with --dry-run",
        ),
        (&["show", "-f"], "--follow cannot be used with \"show\""),
        (
            &["list", "--note", "x"],
            "--note cannot be used with \"list\"",
        ),
        (
            &["log", "--limit", "2"],
            "--limit cannot be used with \"log\"",
        ),
        (
            &["workflows", "--verbose"],
            "--verbose cannot be used with \"workflows\"",
        ),
        (
            &["--validate", "--from", "a"],
            "--validate cannot be used with --from",
        ),
        (&["ui", "--json"], "--json cannot be used with \"ui\""),
        (
            &["ui", "--limit", "5"],
            "--limit cannot be used with \"ui\"",
        ),
        (
            &["list", "--port", "0"],
            "--port cannot be used with \"list\"; it applies only to \"ui\"",
        ),
        (
            &["w", "--open"],
            "--open cannot be used with a workflow run",
        ),
        (
            &["--resume", "run-a", "--session", "run-b"],
            "--resume run-a and --session run-b both name the run to resume; give only one",
        ),
    ];
    for (args, message) in cases {
        let mut test = Test::new().write(&wf("w"), ONE_STEP).status(2);
        for arg in *args {
            test = test.arg(arg);
        }
        let out = test.stderr_contains(message).run();
        assert!(out.run_dirs().is_empty(), "{args:?} started a run");
    }
}

#[test]
fn from_on_a_completed_run_is_checked_and_refused() {
    let done = Test::new().write(&wf("w"), ONE_STEP).arg("w").run();
    let id = done.run_id();
    let unknown = done
        .then()
        .args(["--resume", &id, "--from", "nope"])
        .status(2)
        .stderr_contains("no step \"nope\" in workflow \"w\"")
        .run();
    unknown
        .then()
        .args(["--resume", &id, "--from", "a"])
        .status(2)
        .stderr_contains(&format!(
            "agent-runner: error: run {id} already completed; --from cannot restart it (start a new run instead: \"agent-runner "
        ))
        .run();
}

/// `agent-runner [-q] w` with a shell step writing to both streams and a headless agent step.
fn quiet_or_not(quiet: bool) -> crate::test::Output {
    let mut test = Test::new()
        .fake_clis(&["claude"])
        .fake_script("- [{text: \"the agent's answer\"}]\n")
        .write(
            &wf("w"),
            "name: w\nsteps:\n  - {id: a, command: 'echo first; echo to-stderr >&2'}\n  - {id: b, command: printf second}\n  - {id: c, mode: headless, prompt: answer}\n",
        );
    if quiet {
        test = test.arg("-q");
    }
    test.arg("w").run()
}

#[test]
fn quiet_keeps_the_steps_stdout_and_drops_only_the_runners_lines() {
    let quiet = quiet_or_not(true);
    // What the steps print (`agent-runner -q w > out.txt`) is the same as without -q.
    assert_eq!(quiet.stdout, quiet_or_not(false).stdout);
    assert!(
        quiet.stdout.starts_with("first\nsecond")
            && quiet.stdout.ends_with("  the agent's answer\n"),
        "{}",
        quiet.stdout
    );
    assert!(quiet.stderr.contains("to-stderr"), "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("==>"), "{}", quiet.stderr);
    assert!(
        !quiet.stderr.contains("running workflow"),
        "{}",
        quiet.stderr
    );
    assert!(
        quiet
            .stderr
            .contains("agent-runner: workflow \"w\" completed in "),
        "{}",
        quiet.stderr
    );
}

#[test]
fn preflight_names_every_missing_cli_and_requirement_at_once() {
    // A PATH without any agent CLI, openspec or gh; git stays.
    let out = Test::new()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .args(["flokay", "add-login"])
        .status(4)
        .run();
    for problem in [
        "agent-runner: error: the run cannot start; 5 things it needs are missing:\n",
        "\n  - the \"claude\" CLI is not installed or not on PATH (needed by step \"proposal\"); npm install -g @anthropic-ai/claude-code\n",
        "\n  - the \"codex\" CLI is not installed or not on PATH (needed by step \"review\"); npm install -g @openai/codex\n",
        "\n  - \"openspec\" is not installed or not on PATH (required by workflow \"flokay\"); install it with \"npm install -g @fission-ai/openspec\"\n",
        "\n  - openspec does not exist in the project (required by workflow \"flokay\"); run \"openspec init\" in the project first\n",
        "\n  - \"gh\" is not installed or not on PATH (required by workflow \"core/finalize-pr\"); install the GitHub CLI (https://cli.github.com) and run \"gh auth login\"\n",
    ] {
        assert!(
            out.stderr.contains(problem),
            "{problem:?} in:\n{}",
            out.stderr
        );
    }
    assert!(out.run_dirs().is_empty(), "no run starts");
}

#[test]
fn a_workflow_requirement_is_checked_before_the_first_step() {
    let out = Test::new()
        .write(
            &wf("w"),
            "name: w\nrequires: [agent-runner-no-such-tool, {path: spec/, hint: create it first}]\nsteps:\n  - {id: a, command: 'touch ran'}\n",
        )
        .arg("w")
        .status(4)
        .stderr_contains("agent-runner: error: the run cannot start; 2 things it needs are missing:\n  - \"agent-runner-no-such-tool\" is not installed or not on PATH (required by workflow \"w\")\n  - spec/ does not exist in the project (required by workflow \"w\"); create it first\n")
        .run();
    assert!(!out.project().join("ran").exists());
}
