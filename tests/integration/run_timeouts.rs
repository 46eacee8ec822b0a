//! `timeout` and `idle_timeout` (control.md §2): a hung shell or headless step is stopped with its
//! whole process group, fails with class `timeout` (the audit says which limit), and the run
//! fails or continues as the step says; a resume runs the step again. Durations are short and
//! the assertions are on what was recorded and on the processes being gone, not on wall-clock
//! budgets.

use serde_json::json;

use crate::process_lifetime::nothing_left;
use crate::test::{Test, agent_workflow};

fn shell_workflow(step: &str) -> Test {
    Test::new()
        .workflow(
            "w",
            &format!("name: w\nsteps:\n{step}  - id: after\n    command: echo after\n"),
        )
        .arg("w")
}

#[test]
fn a_hung_shell_step_times_out_with_its_whole_group_and_fails_the_run() {
    // The shell waits for a sleep in its group: both must go.
    let out = shell_workflow(
        "  - id: hang\n    command: sleep 60; echo never\n    timeout: 500ms\n",
    )
    .status(1)
    .stderr_contains("  timed out after 500ms (wall); stopping the command\n")
    .stderr_contains(
        "agent-runner: step \"1/2 hang\" failed: step \"hang\" timed out after 500ms (wall) [timeout]\n",
    )
    .run();
    nothing_left(&out);
    assert!(!out.stdout.contains("never"), "{}", out.stdout);
    assert_eq!(out.events("step_end").len(), 1, "the next step did not run");
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(end["outcome"], "failed");
    assert_eq!(end["error"]["class"], "timeout");
    assert_eq!(end["timeout"], json!({"kind": "wall", "limit_ms": 500}));
    assert_eq!(out.state()["last_failure"]["class"], "timeout");
}

#[test]
fn a_silent_shell_step_hits_its_idle_timeout_and_continue_on_failure_goes_on() {
    let out = shell_workflow(
        "  - id: quiet\n    command: echo start; sleep 60\n    idle_timeout: 300ms\n    continue_on_failure: true\n",
    )
    .stderr_contains("  timed out after 300ms (idle); stopping the command\n")
    .stdout_contains("after\n")
    .run();
    nothing_left(&out);
    let ends = out.events("step_end");
    assert_eq!(ends[0]["data"]["error"]["class"], "timeout");
    assert_eq!(
        ends[0]["data"]["error"]["message"],
        "step \"quiet\" produced no output for 300ms (idle)"
    );
    assert_eq!(
        ends[0]["data"]["timeout"],
        json!({"kind": "idle", "limit_ms": 300})
    );
    assert_eq!(ends[1]["data"]["outcome"], "success");
}

#[test]
fn output_keeps_an_idle_timeout_from_firing() {
    let out = shell_workflow(
        "  - id: busy\n    command: for i in 1 2 3 4 5 6; do echo tick; sleep 0.1; done\n    idle_timeout: 2s\n",
    )
    .stdout_contains("after\n")
    .run();
    assert_eq!(out.events("step_end")[0]["data"]["outcome"], "success");
}

#[test]
fn a_timed_out_step_runs_again_on_resume() {
    let out = shell_workflow(
        "  - id: hang\n    command: test -f fixed || sleep 60\n    timeout: 500ms\n",
    )
    .status(1)
    .run();
    nothing_left(&out);
    std::fs::write(out.project().join("fixed"), "").unwrap();
    let out = out
        .then()
        .args(["--resume"])
        .stdout_contains("after\n")
        .run();
    let ends = out.events("step_end");
    let last_hang = ends
        .iter()
        .rfind(|e| e["path"] == "hang")
        .expect("a step_end of hang");
    assert_eq!(last_hang["data"]["outcome"], "success");
    assert_eq!(out.state()["status"], "completed");
}

#[test]
fn a_hung_headless_agent_is_stopped_by_its_idle_timeout() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: agent\n    mode: headless\n    prompt: Work.\n    idle_timeout: 500ms\n",
    )
    .fake_script("- [{sh: \"sleep 60\"}]\n")
    .status(1)
    .stderr_contains("  timed out after 500ms (idle); stopping the agent\n")
    .run();
    nothing_left(&out);
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(end["error"]["class"], "timeout");
    assert_eq!(end["timeout"], json!({"kind": "idle", "limit_ms": 500}));
}

#[test]
fn a_hung_headless_agent_is_stopped_by_its_wall_timeout() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: agent\n    mode: headless\n    prompt: Work.\n    timeout: 500ms\n",
    )
    .fake_script("- [hang]\n")
    .status(1)
    .stderr_contains("  timed out after 500ms (wall); stopping the agent\n")
    .run();
    nothing_left(&out);
    assert_eq!(
        out.events("step_end")[0]["data"]["error"]["class"],
        "timeout"
    );
}

#[test]
fn a_step_that_exits_0_during_the_grace_still_timed_out() {
    // The shell answers SIGTERM by exiting 0: a timeout is never a success.
    let out = shell_workflow(
        "  - id: polite\n    command: trap 'echo bye; exit 0' TERM; sleep 60 & wait\n    timeout: 500ms\n",
    )
    .status(1)
    .stdout_contains("bye\n")
    .run();
    nothing_left(&out);
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(end["outcome"], "failed");
    assert_eq!(end["error"]["class"], "timeout");
}

#[test]
fn configured_and_workflow_default_limits_apply_and_none_switches_them_off() {
    // The project's `timeout` stops the first step; `timeout: none` on the second lifts it.
    let out = Test::new()
        .project_config("timeout: 300ms\n")
        .workflow(
            "w",
            "name: w\nsteps:\n  - id: capped\n    command: sleep 30\n    continue_on_failure: true\n  - id: free\n    command: sleep 0.6\n    timeout: none\n",
        )
        .arg("w")
        .run();
    let ends = out.events("step_end");
    assert_eq!(
        ends[0]["data"]["timeout"],
        json!({"kind": "wall", "limit_ms": 300})
    );
    assert_eq!(ends[1]["data"]["outcome"], "success");
    // The workflow's defaults come before the configuration's.
    let out = Test::new()
        .project_config("idle_timeout: 1h\n")
        .workflow(
            "w",
            "name: w\ndefaults:\n  idle_timeout: 300ms\nsteps:\n  - id: quiet\n    command: sleep 30\n",
        )
        .arg("w")
        .status(1)
        .run();
    nothing_left(&out);
    assert_eq!(
        out.events("step_end")[0]["data"]["timeout"],
        json!({"kind": "idle", "limit_ms": 300})
    );
}

#[test]
fn a_cli_limit_applies_to_that_clis_agent_steps_only() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: shell\n    command: sleep 0.6\n  - id: agent\n    mode: headless\n    prompt: Work.\n",
    )
    .project_config("clis:\n  claude:\n    timeout: 300ms\n")
    .fake_script("- [hang]\n")
    .status(1)
    .run();
    nothing_left(&out);
    let ends = out.events("step_end");
    assert_eq!(ends[0]["data"]["outcome"], "success");
    assert_eq!(
        ends[1]["data"]["timeout"],
        json!({"kind": "wall", "limit_ms": 300})
    );
}

#[test]
fn kill_grace_bounds_how_long_a_group_that_ignores_sigterm_lives() {
    // Both the shell and its sleep ignore SIGTERM: only the SIGKILL after kill_grace ends them,
    // long before the default grace of 10 s.
    let out = Test::new()
        .project_config("kill_grace: 200ms\n")
        .workflow(
            "w",
            "name: w\nsteps:\n  - id: stubborn\n    command: trap '' TERM; sleep 30\n    timeout: 300ms\n",
        )
        .arg("w")
        .status(1)
        .run();
    nothing_left(&out);
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(end["error"]["class"], "timeout");
    assert!(end["duration_ms"].as_u64().unwrap() < 5_000, "{end}");
}

#[test]
fn a_bad_configured_duration_names_the_file_and_the_fix() {
    Test::new()
        .project_config("timeout: 30\nclis:\n  codex:\n    idle_timeout: 5x\n")
        .workflow("w", "name: w\nsteps:\n  - id: a\n    command: echo hi\n")
        .arg("w")
        .status(3)
        .stderr_contains(".agent-runner/config.yaml:1:10: error[config]: top level: invalid timeout: number 30 is not a duration\n  help: write \"30s\" or \"5m\", or \"none\" for no limit\n")
        .stderr_contains(".agent-runner/config.yaml:4:19: error[config]: top level: invalid idle_timeout: \"5x\": unknown unit \"x\"")
        .run();
}
