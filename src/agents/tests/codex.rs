//! codex: argv snapshots (agents.md §3), fixture parsing, rollout lookup and discovery.

use std::time::{Duration, SystemTime};

use super::*;
use crate::agents::codex::{Codex, CodexParser, discover_in};
use crate::agents::{Adapter, DiscoveryContext, ErrorClass, Stdin, Usage};
use crate::workflow::model::Effort;

const PROMPT: &str = "<workflow-context>\nSYS\n</workflow-context>\n\nDo the step.";
const RUN_DIR: &str = "/home/u/.agent-runner/runs/r1";

fn argv(i: &Invocation) -> Vec<String> {
    Codex.build(i).unwrap().args
}

#[test]
fn headless_new_per_permission_level() {
    let mut i = inv(
        "codex",
        AgentMode::Headless,
        SessionRequest::New { preassigned: None },
        Permissions::Ask,
    );
    i.model = Some("gpt-5.5".into());
    i.effort = Some(Effort::High);
    let spec = Codex.build(&i).unwrap();
    assert_eq!(spec.stdin, Stdin::Null);
    assert_eq!(
        spec.args,
        strings(&[
            "-s",
            "read-only",
            "-a",
            "never",
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-m",
            "gpt-5.5",
            "-c",
            "model_reasoning_effort=\"high\"",
            "--",
            PROMPT,
        ])
    );
    i.permissions = Permissions::Edit;
    assert_eq!(
        argv(&i)[..8],
        strings(&[
            "-s",
            "workspace-write",
            "--add-dir",
            RUN_DIR,
            "-a",
            "never",
            "exec",
            "--json"
        ])
    );
    i.permissions = Permissions::Full;
    i.model = None;
    i.effort = Some(Effort::Max);
    assert_eq!(
        argv(&i),
        strings(&[
            "--dangerously-bypass-approvals-and-sandbox",
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-c",
            "model_reasoning_effort=\"xhigh\"",
            "--",
            PROMPT,
        ])
    );
}

#[test]
fn headless_resume() {
    let mut i = inv("codex", AgentMode::Headless, resume(), Permissions::Edit);
    i.extra_args = strings(&["--ephemeral"]);
    assert_eq!(
        argv(&i),
        strings(&[
            "-s",
            "workspace-write",
            "--add-dir",
            RUN_DIR,
            "-a",
            "never",
            "exec",
            "resume",
            "--json",
            "--skip-git-repo-check",
            "--ephemeral",
            "--",
            SID,
            PROMPT,
        ])
    );
}

#[test]
fn interactive_new() {
    let mut i = inv(
        "codex",
        AgentMode::Interactive,
        SessionRequest::New { preassigned: None },
        Permissions::Ask,
    );
    i.model = Some("gpt-5.5".into());
    let spec = Codex.build(&i).unwrap();
    assert_eq!(spec.stdin, Stdin::Pty);
    assert_eq!(
        spec.args,
        strings(&[
            "--no-alt-screen",
            "--no-daemon",
            "-s",
            "read-only",
            "-a",
            "on-request",
            "-m",
            "gpt-5.5",
            "--",
            PROMPT,
        ])
    );
}

#[test]
fn interactive_resume() {
    let mut i = inv("codex", AgentMode::Interactive, resume(), Permissions::Edit);
    i.effort = Some(Effort::Medium);
    assert_eq!(
        argv(&i),
        strings(&[
            "resume",
            "--no-alt-screen",
            "--no-daemon",
            "-s",
            "workspace-write",
            "--add-dir",
            RUN_DIR,
            "-a",
            "on-request",
            "-c",
            "model_reasoning_effort=\"medium\"",
            "--",
            SID,
            PROMPT,
        ])
    );
    i.permissions = Permissions::Full;
    i.effort = None;
    i.system_text = String::new();
    assert_eq!(
        argv(&i),
        strings(&[
            "resume",
            "--no-alt-screen",
            "--no-daemon",
            "--dangerously-bypass-approvals-and-sandbox",
            "--",
            SID,
            "Do the step.",
        ])
    );
}

fn parser(expected: Option<&str>) -> Box<dyn StreamParser> {
    Box::new(CodexParser::new(expected.map(str::to_string)))
}

#[test]
fn parses_a_successful_turn() {
    let (events, done) = parse_fixture(parser(None), "codex", "success");
    assert_eq!(
        events[0],
        AgentEvent::SessionStarted {
            id: SID.into(),
            model: None
        }
    );
    let tools: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolUse { tool, summary, .. } => Some((tool.clone(), summary.clone())),
            _ => None,
        })
        .collect();
    let pairs = |items: &[(&str, &str)]| {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tools,
        pairs(&[
            ("todo", "0/2 done"),
            ("shell", "/bin/bash -lc 'cargo test --quiet'"),
            ("todo", "1/2 done"),
            ("edit", "/work/proj/src/lib.rs (update)"),
            ("edit", "/work/proj/src/new.rs (add)"),
            ("shell", "/bin/bash -lc 'cargo test --quiet'"),
            ("todo", "2/2 done"),
        ])
    );
    let results: Vec<bool> = events
        .iter()
        .filter_map(|e| {
            if let AgentEvent::ToolResult { ok, .. } = e {
                Some(*ok)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(results, vec![false, true]);
    assert!(matches!(&events[1], AgentEvent::Reasoning { text } if text.starts_with("**Planning")));
    let usage = Usage {
        input_tokens: 24763,
        cached_input_tokens: 24448,
        cache_creation_tokens: 0,
        output_tokens: 422,
        reasoning_tokens: 128,
    };
    assert_eq!(
        done,
        Completion {
            models: Vec::new(),
            session_id: Some(SID.into()),
            final_text: Some(ANSWER.into()),
            usage: Some(usage),
            cost_usd: None,
            num_turns: Some(1),
            structured: None,
            failure: None,
            denials: Vec::new(),
        }
    );
}

#[test]
fn usage_is_summed_over_turns() {
    let mut p = parser(None);
    p.feed(br#"{"type":"thread.started","thread_id":"t"}"#);
    p.feed(br#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":2}}"#);
    p.feed(br#"{"type":"turn.completed","usage":{"input_tokens":5,"cached_input_tokens":1,"output_tokens":3}}"#);
    let done = p.finish(&ExitInfo::code(0));
    let u = done.usage.unwrap();
    assert_eq!(
        (u.input_tokens, u.cached_input_tokens, u.output_tokens),
        (15, 5, 5)
    );
    assert_eq!(done.num_turns, Some(2));
}

#[test]
fn reconnects_are_warnings_and_no_turn_completed_fails() {
    let (events, done) = parse_fixture(parser(None), "codex", "reconnecting");
    let warnings = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::Warning { .. }))
        .count();
    assert_eq!(warnings, 4);
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::CliError);
    assert_eq!(failure.message, "codex ended without completing its turn");
}

#[test]
fn a_turn_failed_on_a_lost_stream_is_network_with_its_message() {
    let (events, done) = parse_fixture(parser(None), "codex", "turn_failed");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Final { is_error: true, .. }))
    );
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::Network);
    assert!(
        failure
            .message
            .starts_with("stream disconnected before completion")
    );
}

#[test]
fn unauthorized_is_cli_auth() {
    let (_, done) = parse_fixture(parser(None), "codex", "logged_out");
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::CliAuth);
    assert_eq!(
        failure.message,
        "codex is not logged in; run \"codex login\""
    );
}

#[test]
fn unknown_thread_is_session_missing() {
    let (events, done) = parse_fixture(parser(Some(SID)), "codex", "no_rollout");
    assert!(events.is_empty());
    let failure = done.failure.unwrap();
    assert_eq!(
        (failure.class, failure.message),
        (
            ErrorClass::SessionMissing,
            format!("codex has no session {SID}")
        )
    );
    assert_eq!(done.session_id.as_deref(), Some(SID));
}

#[test]
fn other_exits_quote_the_error_line_not_the_backtrace() {
    let mut p = parser(None);
    let exit = ExitInfo {
        code: Some(1),
        signal: None,
        stderr_tail: "Error: stdin is not a terminal\n\nStack backtrace:\n   0: <unknown>\n".into(),
    };
    let failure = p.finish(&exit).failure.unwrap();
    assert_eq!(failure.class, ErrorClass::ExitStatus);
    assert_eq!(
        failure.message,
        "codex failed with exit status 1: Error: stdin is not a terminal"
    );
}

fn write_rollout(
    sessions: &std::path::Path,
    date: &str,
    id: &str,
    cwd: &str,
) -> std::path::PathBuf {
    let dir = sessions.join(date);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("rollout-2026-11-21T09-07-09-{id}.jsonl"));
    let meta = format!(
        r#"{{"timestamp":"2026-11-21T09:07:09.481Z","type":"session_meta","payload":{{"id":"{id}","timestamp":"2026-11-21T09:07:09.455Z","cwd":"{cwd}","originator":"codex_cli_rs","cli_version":"0.169.0"}}}}"#
    );
    std::fs::write(&path, format!("{meta}\n")).unwrap();
    path
}

#[test]
fn session_exists_globs_rollouts() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap().to_string();
    let env = move |k: &str| (k == "CODEX_HOME").then(|| h.clone());
    let wd = std::path::Path::new("/anywhere");
    assert_eq!(Codex.session_exists(SID, wd, &env), Some(false));
    write_rollout(
        &home.path().join("sessions"),
        "2026/11/20",
        SID,
        "/work/proj",
    );
    assert_eq!(Codex.session_exists(SID, wd, &env), Some(true));
    assert_eq!(
        Codex.session_exists("01a1fd5c-080e-7751-9fcc-cf9d0db219f7", wd, &env),
        Some(false)
    );
}

#[test]
fn discovery_matches_cwd_and_spawn_time() {
    let home = tempfile::tempdir().unwrap();
    let sessions = home.path().join("sessions");
    let now = SystemTime::now();
    let today = crate::agents::ids::date_path(now);
    let ctx = DiscoveryContext {
        workdir: "/work/proj".into(),
        spawned_at: now - Duration::from_secs(5),
        now,
    };
    assert_eq!(discover_in(&sessions, &ctx).session_id, None);
    write_rollout(&sessions, &today, "other-cwd", "/work/else");
    assert_eq!(discover_in(&sessions, &ctx).session_id, None);
    write_rollout(&sessions, &today, "first", "/work/proj");
    let found = discover_in(&sessions, &ctx);
    assert_eq!(
        (found.session_id.as_deref(), found.warning),
        (Some("first"), None)
    );
    let late = ctx.clone();
    let found = discover_in(
        &sessions,
        &DiscoveryContext {
            spawned_at: now + Duration::from_secs(60),
            ..late
        },
    );
    assert_eq!(found.session_id, None);
    std::thread::sleep(Duration::from_millis(1100));
    write_rollout(&sessions, &today, "second", "/work/proj");
    let found = discover_in(&sessions, &ctx);
    assert_eq!(found.session_id.as_deref(), Some("first"));
    assert!(
        found
            .warning
            .unwrap()
            .starts_with("2 codex sessions started in /work/proj")
    );
}

#[test]
fn preflight_and_hints() {
    let none = |_: &str| None;
    assert_eq!(
        Codex.preflight_args(&none),
        Some(strings(&["login", "status"]))
    );
    assert_eq!(Codex.not_logged_in().class, ErrorClass::CliAuth);
    assert!(!Codex.capabilities().preassigned_session_id);
    assert!(!Codex.capabilities().cost);
}

#[test]
fn codex_failures_land_in_their_classes() {
    for (fixture, class) in [
        ("rate_limited", ErrorClass::RateLimit),
        ("usage_limit", ErrorClass::Quota),
        ("asks_user", ErrorClass::AgentQuestion),
    ] {
        let (_, done) = parse_fixture(parser(None), "codex", fixture);
        let failure = done.failure.expect(fixture);
        assert_eq!(failure.class, class, "{fixture}: {}", failure.message);
    }
}
