//! `timeout` on loop, group, sub-workflow and interactive steps (control.md §2): a container's
//! limit covers everything inside; at the deadline the running child is stopped with its whole
//! process group and recorded `interrupted`, no further child starts, and the container fails
//! with class `timeout`. An interactive step's limit stops the relayed child the same way. Each
//! is counted per attempt and a resume continues where the container stopped.

use serde_json::json;

use super::interactive_harness::{NEXT_STEP, World, flag_value};
use crate::process_lifetime::nothing_left;
use crate::test::Test;

fn workflow(yaml: &str) -> Test {
    Test::new()
        .workflow("w", yaml)
        .project_config("kill_grace: 1s\n")
        .arg("w")
}

/// The `step_end` records of `path`, in order.
fn ends_of(out: &crate::test::Output, path: &str) -> Vec<serde_json::Value> {
    out.events("step_end")
        .into_iter()
        .filter(|e| e["path"] == path)
        .map(|e| e["data"].clone())
        .collect()
}

#[test]
fn a_loops_timeout_covers_all_its_iterations_and_stops_the_running_one() {
    let out = workflow(
        "name: w\nsteps:\n  - id: poll\n    timeout: 1s\n    loop: {max: 50}\n    steps:\n      - id: tick\n        command: echo tick >> ticks; sleep 0.3\n  - id: after\n    command: echo after\n",
    )
    .status(1)
    .stderr_contains("  timed out after 1s (wall); stopping the loop\n")
    .stderr_contains("step \"poll\" timed out after 1s (wall) [timeout]")
    .run();
    nothing_left(&out);
    let ticks = out.read("ticks").lines().count();
    assert!((2..=6).contains(&ticks), "{ticks} iterations ran");
    let tick_outcomes: Vec<String> = out
        .events("step_end")
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with("/tick")))
        .map(|e| e["data"]["outcome"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        tick_outcomes.last().map(String::as_str),
        Some("interrupted")
    );
    assert!(
        tick_outcomes[..tick_outcomes.len() - 1]
            .iter()
            .all(|o| o == "success")
    );
    let poll = &ends_of(&out, "poll")[0];
    assert_eq!(poll["outcome"], "failed");
    assert_eq!(poll["error"]["class"], "timeout");
    assert_eq!(poll["timeout"], json!({"kind": "wall", "limit_ms": 1000}));
    assert!(ends_of(&out, "after").is_empty(), "the run stopped");
    assert_eq!(out.state()["last_failure"]["class"], "timeout");
}

#[test]
fn a_groups_timeout_stops_its_child_and_a_resume_runs_only_what_was_left() {
    let out = workflow(
        "name: w\nsteps:\n  - id: work\n    timeout: 700ms\n    steps:\n      - id: quick\n        command: echo quick >> ran\n      - id: slow\n        command: test -f fixed || sleep 30\n      - id: last\n        command: echo last >> ran\n",
    )
    .status(1)
    .stderr_contains("  timed out after 700ms (wall); stopping the group\n")
    .run();
    nothing_left(&out);
    assert_eq!(out.read("ran"), "quick\n");
    assert_eq!(ends_of(&out, "work/slow")[0]["outcome"], "interrupted");
    assert_eq!(ends_of(&out, "work")[0]["error"]["class"], "timeout");

    std::fs::write(out.project().join("fixed"), "").unwrap();
    let out = out.then().arg("--resume").run();
    assert_eq!(out.read("ran"), "quick\nlast\n", "quick did not run again");
    assert_eq!(out.state()["status"], "completed");
}

#[test]
fn a_sub_workflows_timeout_stops_the_called_workflow() {
    let out = workflow("name: w\nsteps:\n  - id: call\n    timeout: 500ms\n    workflow: inner\n")
        .workflow(
            "inner",
            "name: inner\nsteps:\n  - id: hang\n    command: sleep 30\n",
        )
        .status(1)
        .stderr_contains("  timed out after 500ms (wall); stopping the sub-workflow\n")
        .run();
    nothing_left(&out);
    assert_eq!(ends_of(&out, "call/hang")[0]["outcome"], "interrupted");
    let call = &ends_of(&out, "call")[0];
    assert_eq!(call["error"]["class"], "timeout");
    assert_eq!(
        call["error"]["message"],
        "step \"call\" timed out after 500ms (wall)"
    );
}

#[test]
fn a_parallel_groups_timeout_stops_every_branch() {
    let out = workflow(
        "name: w\nsteps:\n  - id: fan\n    timeout: 700ms\n    parallel: true\n    steps:\n      - id: a\n        command: sleep 30\n      - id: b\n        command: sleep 30\n",
    )
    .status(1)
    .stderr_contains("stopping the group")
    .run();
    nothing_left(&out);
    assert_eq!(ends_of(&out, "fan/a")[0]["outcome"], "interrupted");
    assert_eq!(ends_of(&out, "fan/b")[0]["outcome"], "interrupted");
    assert_eq!(ends_of(&out, "fan")[0]["error"]["class"], "timeout");
}

#[test]
fn a_container_that_ends_in_time_succeeds_and_configured_defaults_do_not_apply_to_it() {
    // `defaults.timeout` limits each leaf, never the group around them.
    let out = workflow(
        "name: w\ndefaults:\n  timeout: 400ms\nsteps:\n  - id: group\n    timeout: 5s\n    steps:\n      - id: a\n        command: sleep 0.25\n      - id: b\n        command: sleep 0.25\n",
    )
    .run();
    assert_eq!(ends_of(&out, "group")[0]["outcome"], "success");
}

#[test]
fn an_interactive_agent_steps_timeout_stops_the_agent_and_fails_the_step() {
    let world = World::new().script("- [{print: first}]\n- [{print: resumed}, {exit: 0}]\n").workflow(
        "w",
        "name: w\nsteps:\n  - id: chat\n    cli: claude\n    prompt: Talk with me\n    timeout: 1s\n  - id: after\n    command: printf 'next step %s\\n' ran\n",
    );
    let mut term = world.spawn(&["w"]);
    let finished = term.finish();
    assert_eq!(finished.status, 1, "{}", finished.screen);
    finished.shows("timed out after 1s (wall); stopping the agent");
    finished.shows("step \"chat\" timed out after 1s (wall) [timeout]");
    assert!(!finished.screen.contains(NEXT_STEP));
    let end = world.step_end("chat");
    assert_eq!(end["outcome"], "failed");
    assert_eq!(end["error"]["class"], "timeout");
    assert!(end["transcript"].is_string(), "the transcript is kept");
    // The session seen before the timeout is kept, so a resume continues that conversation.
    let mut term = world.spawn(&["--resume"]);
    term.expect("resumed");
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
    let turns = world.turns();
    let id = turns[0]["session_id"].as_str().unwrap_or_default();
    assert_eq!(flag_value(&turns[1]["argv"], "--resume"), Some(id));
}

#[test]
fn an_interactive_shell_steps_timeout_stops_its_command() {
    let world = World::new().workflow(
        "w",
        "name: w\nsteps:\n  - id: hold\n    mode: interactive\n    command: printf 'holding\\n'; sleep 30\n    timeout: 700ms\n",
    );
    let mut term = world.spawn(&["w"]);
    term.expect("holding");
    let finished = term.finish();
    assert_eq!(finished.status, 1, "{}", finished.screen);
    finished.shows("timed out after 700ms (wall); stopping the command");
    assert_eq!(world.step_end("hold")["error"]["class"], "timeout");
}
