//! `retry` (control.md §4) and tool denials (§3) through the real binary. Backoffs are written
//! as `10ms` in these workflows, so no test sleeps for a real backoff.

use std::time::Duration;

use nix::sys::signal::Signal;
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::test::{Test, agent_workflow};

/// A shell step that fails with exit 3 on its first `fail_first` tries (counted in `tries`).
fn flaky(fail_first: u32, retry: &str) -> Test {
    Test::new()
        .workflow(
            "w",
            &format!(
                "name: w\nsteps:\n  - id: flaky\n    command: echo x >> tries; test $(wc -l < tries) -gt {fail_first} || exit 3\n    retry: {retry}\n"
            ),
        )
        .arg("w")
}

fn tries(out: &crate::test::Output) -> usize {
    std::fs::read_to_string(out.project().join("tries"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// Whether an `audit.jsonl` below `dir` contains `needle`.
fn audit_has(dir: &std::path::Path, needle: &str) -> bool {
    crate::test::any_file_below(dir, &|path| {
        path.file_name().is_some_and(|n| n == "audit.jsonl")
            && std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

#[test]
fn a_failed_shell_step_is_tried_again_with_its_own_start_and_end_and_a_step_retry_event() {
    let out = flaky(1, "{attempts: 3, backoff: 10ms, on: [exit_status]}")
        .stderr_contains("  failed: exit status 3\n  retry 2/3 in ")
        .stderr_contains(" (exit_status: exit status 3)\n")
        .stderr_contains("(1 ok, 0 skipped, 0 failed but continued)")
        .run();
    assert_eq!(tries(&out), 2);
    let starts: Vec<_> = out
        .events("step_start")
        .iter()
        .map(|e| e["data"]["attempt"].clone())
        .collect();
    assert_eq!(starts, [json!(1), json!(2)]);
    let ends = out.events("step_end");
    assert_eq!(ends[0]["data"]["attempt"], 1);
    assert_eq!(ends[0]["data"]["outcome"], "failed");
    assert_eq!(ends[0]["data"]["error"]["class"], "exit_status");
    assert_eq!(ends[1]["data"]["attempt"], 2);
    assert_eq!(ends[1]["data"]["outcome"], "success");
    let retry = &out.events("step_retry")[0]["data"];
    assert_eq!(retry["attempt"], 2);
    assert_eq!(retry["class"], "exit_status");
    assert_eq!(retry["message"], "exit status 3");
    let delay = retry["delay_ms"].as_u64().unwrap();
    assert!((8..=12).contains(&delay), "{delay}");
}

#[test]
fn a_class_the_policy_does_not_list_is_not_retried() {
    let out = flaky(1, "3").status(1).run();
    assert_eq!(tries(&out), 1);
    assert!(!out.stderr.contains("retry 2/3"), "{}", out.stderr);
    assert!(out.events("step_retry").is_empty());
}

#[test]
fn after_the_last_attempt_the_run_fails_and_a_resume_gives_one_more_full_set() {
    let out = flaky(10, "{attempts: 2, backoff: 10ms, on: [exit_status]}")
        .status(1)
        .stderr_contains("  retry 2/2 in ")
        .run();
    assert_eq!(tries(&out), 2);
    let state = out.state();
    assert_eq!(state["format_version"], 2);
    assert_eq!(state["position"]["retry_attempt"], 2);
    assert_eq!(state["last_failure"]["class"], "exit_status");
    let run_id = out.run_id();
    let out = out
        .again()
        .args(["--resume", &run_id])
        .status(1)
        .stderr_contains("  retry 2/2 in ")
        .run();
    assert_eq!(tries(&out), 4);
}

#[test]
fn defaults_retry_applies_to_the_files_shell_steps() {
    let out = Test::new()
        .workflow(
            "w",
            "name: w\ndefaults:\n  retry: {attempts: 2, backoff: 10ms, on: [exit_status]}\nsteps:\n  - id: flaky\n    command: echo x >> tries; test $(wc -l < tries) -gt 1 || exit 3\n",
        )
        .arg("w")
        .run();
    assert_eq!(tries(&out), 2);
}

#[test]
fn sigint_during_a_backoff_stops_at_once_and_the_resume_continues_the_count() {
    let mut running = flaky(10, "{attempts: 3, backoff: 30s, on: [exit_status]}")
        .status(130)
        .spawn();
    running.wait_until(Duration::from_secs(20), "the step_retry event", |root| {
        audit_has(root, "\"step_retry\"")
    });
    running.signal(Signal::SIGINT);
    let out = running.finish(Duration::from_secs(5));
    assert_eq!(tries(&out), 1);
    assert_eq!(out.state()["status"], "interrupted");
    assert_eq!(out.state()["position"]["retry_attempt"], 1);
    let run_id = out.run_id();
    let out = out
        .again()
        .workflow(
            "w",
            "name: w\nsteps:\n  - id: flaky\n    command: echo x >> tries; test $(wc -l < tries) -gt 10 || exit 3\n    retry: {attempts: 3, backoff: 10ms, on: [exit_status]}\n",
        )
        .args(["--resume", &run_id])
        .status(1)
        .stderr_contains("  retry 3/3 in ")
        .run();
    // Tries 2 and 3: the resume continued the count.
    assert_eq!(tries(&out), 3);
}

#[test]
fn a_rate_limited_agent_step_continues_its_session_with_the_retry_framing() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: a\n    mode: headless\n    prompt: Do the task.\n    retry: {attempts: 2, backoff: 10ms}\n",
    )
    .fake_script("- [{emit: rate_limited}]\n- [{text: done}]\n")
    .stderr_contains("  retry 2/2 in ")
    .stderr_contains(" (rate_limit: API Error: Request rejected (429)")
    .run();
    let first = out.turn_session(0);
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 2);
    let second = &argvs[1];
    assert!(
        second.windows(2).any(|w| w == ["--resume", first.as_str()]),
        "{second:?}"
    );
    let prompt = second.last().unwrap();
    assert!(
        prompt.starts_with(
            "The previous attempt of this step stopped early (rate_limit: API Error: Request rejected (429) · this may be a temporary capacity issue.). Continue the task from where it stopped; do not redo finished work.\n\nDo the task."
        ),
        "{prompt}"
    );
}

#[test]
fn wait_for_reset_waits_until_the_quota_resets_then_tries_once_more() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: a\n    mode: headless\n    prompt: p\n    retry: {attempts: 2, backoff: 10ms, wait_for_reset: true}\n",
    )
    .env("FAKE_AGENT_RESETS_IN", "1")
    .fake_script("- [{emit: usage_limit}]\n- [{text: done}]\n")
    .stderr_contains(", when the usage limit resets (quota: You've hit your usage limit")
    .run();
    assert_eq!(out.turns().len(), 2);
    let delay = out.events("step_retry")[0]["data"]["delay_ms"]
        .as_u64()
        .unwrap();
    assert!(delay <= 2000, "{delay}");
}

#[test]
fn denied_tool_calls_warn_once_per_step_and_deny_fail_fails_it() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n")
        .fake_script("- [{emit: denied}]\n")
        .stderr_contains("  warning: 2 tool calls were denied: Bash(rm -rf build), WebFetch\n")
        .run();
    let warning = &out.events("warning")[0]["data"];
    assert_eq!(warning["code"], "permission_denied");
    assert_eq!(out.events("step_end")[0]["data"]["denied"], 2);
    let run_id = out.run_id();
    let shown = out.again().args(["show", &run_id]).run();
    assert!(
        shown.stdout.contains("success (2 tool calls denied)"),
        "{}",
        shown.stdout
    );
    fails_on_denials(agent_workflow(
        "name: w\ndefaults: {deny: fail}\nsteps:\n  - {id: a, mode: headless, prompt: p}\n",
    ));
}

/// What the `denied` fixture's two denials read as.
const DENIED: &str = "2 tool calls were denied: Bash(rm -rf build), WebFetch";

/// Runs `test`, whose first agent step gets the `denied` fixture and fails on it.
fn fails_on_denials(test: Test) {
    let out = test
        .fake_script("- [{emit: denied}]\n")
        .status(1)
        .stderr_contains(&format!("failed: {DENIED} [permission_denied]\n"))
        .run();
    assert_eq!(out.state()["last_failure"]["class"], "permission_denied");
}

#[test]
fn timeouts_apply_to_each_try_and_a_timeout_is_retried_by_default() {
    let started = std::time::Instant::now();
    let out = Test::new()
        .workflow(
            "w",
            "name: w\nsteps:\n  - id: hang\n    command: sleep 5\n    timeout: 300ms\n    retry: {attempts: 2, backoff: 10ms}\n",
        )
        .arg("w")
        .status(1)
        .stderr_contains("  retry 2/2 in ")
        .stderr_contains("(timeout: step \"hang\" timed out after 300ms (wall))\n")
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let ends = out.events("step_end");
    assert_eq!(ends.len(), 2);
    for end in &ends {
        assert_eq!(end["data"]["error"]["class"], "timeout");
        assert_eq!(end["data"]["timeout"]["limit_ms"], 300);
    }
}

#[test]
fn a_profile_sets_deny_and_timeouts_under_the_steps_own_keys_and_over_the_files_defaults() {
    let workflow = "name: w\n\
                    defaults: {deny: warn, timeout: 1m}\n\
                    steps:\n  \
                    - {id: strict, mode: headless, prompt: p, agent: careful}\n  \
                    - {id: slow, mode: headless, prompt: p, agent: careful, deny: warn}\n";
    let profile = "profiles:\n  \
                   base: {timeout: 700ms}\n  \
                   careful: {extends: base, deny: fail}\n";
    fails_on_denials(agent_workflow(workflow).project_config(profile));
    let out = agent_workflow(&workflow.replace(
        "agent: careful}\n  - {id: slow",
        "agent: careful, deny: warn}\n  - {id: slow",
    ))
    .project_config(profile)
    .fake_script("- [{emit: denied}]\n- [{sleep_ms: 5000}, {text: late}]\n")
    .status(1)
    .stderr_contains(&format!("  warning: {DENIED}\n"))
    .stderr_contains("step \"slow\" timed out after 700ms (wall) [timeout]")
    .run();
    let ends = out.events("step_end");
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[1]["data"]["timeout"]["limit_ms"], 700);
}

#[test]
fn a_profiles_bad_deny_or_timeout_is_a_configuration_error() {
    agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n")
        .project_config("profiles:\n  p: {deny: never, timeout: 5}\n")
        .status(3)
        .stderr_contains("deny")
        .stderr_contains("timeout")
        .run();
}
