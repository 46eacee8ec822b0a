//! Error classes of control.md §3 through the real binary: the fake CLIs emit the failures the
//! real ones report, and the class shows on the console after the message, in `state.json`
//! `last_failure.class` and in the audit log's `step_end.error`.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::test::agent_workflow;

/// Runs one headless step whose CLI replays `fixture`; returns the run's output.
fn failing(cli: &str, fixture: &str) -> crate::test::Output {
    agent_workflow(&format!(
        "name: w\nsteps:\n  - {{id: a, mode: headless, cli: {cli}, prompt: p}}\n"
    ))
    .fake_script(&format!("- [{{emit: {fixture}}}]\n"))
    .status(1)
    .run()
}

#[test]
fn each_cli_failure_lands_in_its_class_on_the_console_in_state_and_in_the_audit() {
    for (cli, fixture, class, message) in [
        (
            "claude",
            "rate_limited",
            "rate_limit",
            "API Error: Request rejected (429) · this may be a temporary capacity issue.",
        ),
        (
            "claude",
            "api_error",
            "overloaded",
            "API Error: Repeated 529 Overloaded errors",
        ),
        (
            "claude",
            "connection_lost",
            "network",
            "API Error: Connection error.",
        ),
        (
            "claude",
            "max_turns",
            "max_turns",
            "claude stopped at its turn limit",
        ),
        (
            "codex",
            "rate_limited",
            "rate_limit",
            "exceeded retry limit, last status: 429 Too Many Requests, request id: req_0199",
        ),
        (
            "codex",
            "turn_failed",
            "network",
            "stream disconnected before completion: error sending request for url (https://chatgpt.com/backend-api/codex/responses)",
        ),
    ] {
        let out = failing(cli, fixture);
        assert!(
            out.stderr.contains(&format!(
                "agent-runner: step \"1/1 a\" failed: {message} [{class}]\n"
            )),
            "{cli}/{fixture}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!("  failed: {message} [{class}] (")),
            "{cli}/{fixture}: {}",
            out.stderr
        );
        assert_eq!(
            out.state()["last_failure"],
            json!({"path": "a", "class": class, "message": message}),
            "{cli}/{fixture}"
        );
        assert_eq!(
            out.events("step_end")[0]["data"]["error"],
            json!({"class": class, "message": message}),
            "{cli}/{fixture}"
        );
    }
}

#[test]
fn a_usage_limit_is_quota_with_the_reset_time_claude_reports() {
    let out = failing("claude", "usage_limit");
    let error = &out.events("step_end")[0]["data"]["error"];
    assert_eq!(error["class"], "quota");
    assert_eq!(error["message"], "You've hit your usage limit · resets 3pm");
    let reset = error["reset_at"].as_str().expect("reset_at");
    let reset = agent_runner::state::parse_rfc3339(reset).expect("RFC 3339");
    let ahead = reset
        .duration_since(std::time::SystemTime::now())
        .expect("in the future")
        .as_secs();
    assert!((3500..=3600).contains(&ahead), "{ahead}");
    let out = failing("codex", "usage_limit");
    assert_eq!(out.state()["last_failure"]["class"], "quota");
}

#[test]
fn resuming_a_session_the_cli_does_not_have_is_session_missing() {
    let id = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    for cli in ["claude", "codex"] {
        let out = agent_workflow(&format!(
            "name: w\ndefaults: {{cli: {cli}}}\nsteps:\n  - {{id: a, mode: headless, session: resume, prompt: p}}\n"
        ))
        .args(["--session", &format!("{cli}:{id}")])
        .status(1)
        .run();
        assert_eq!(
            out.state()["last_failure"]["class"],
            "session_missing",
            "{cli}"
        );
        assert!(
            out.stderr.contains(" [session_missing]\n"),
            "{}",
            out.stderr
        );
    }
}
