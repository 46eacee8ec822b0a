//! `timeout` and `idle_timeout` (control.md §2): a hung shell or headless step is stopped with its
//! whole process group, fails with class `timeout` (the audit says which limit), and the run
//! fails or continues as the step says; a resume runs the step again. Durations are short and
//! the assertions are on what was recorded and on the processes being gone, not on wall-clock
//! budgets.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::process_lifetime::processes_with;
use crate::test::{Output, Test, agent_workflow};

/// Asserts that no process started by the test's run is left (the watchdog included).
fn nothing_left(out: &Output) {
    let marker = out.tempdir.path().display().to_string();
    let ended = Instant::now();
    while !processes_with(&marker).is_empty() {
        assert!(
            ended.elapsed() < Duration::from_secs(2),
            "left running: {:?}",
            processes_with(&marker)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

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
        "agent-runner: step \"1/2 hang\" failed: step \"hang\" timed out after 500ms (wall)\n",
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
