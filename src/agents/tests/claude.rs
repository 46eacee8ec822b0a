//! claude: argv snapshots (agents.md §2), fixture parsing, the project key rule.

use super::*;
use crate::agents::claude::{Claude, ClaudeParser, ROOT_FULL_MESSAGE, project_key};
use crate::agents::{Adapter, BuildError, ErrorClass, ModelUsage, Stdin, Usage};
use crate::workflow::model::Effort;

fn argv(i: &Invocation) -> Vec<String> {
    Claude.build(i).unwrap().args
}

#[test]
fn headless_new() {
    let mut i = inv(
        "claude",
        AgentMode::Headless,
        new_session(),
        Permissions::Ask,
    );
    i.model = Some("opus".into());
    i.effort = Some(Effort::Max);
    let spec = Claude.build(&i).unwrap();
    assert_eq!(spec.program, "claude");
    assert_eq!(spec.stdin, Stdin::Null);
    assert!(spec.env_remove.contains(&"CLAUDECODE".to_string()));
    assert_eq!(
        spec.args,
        strings(&[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--session-id",
            SID,
            "--model",
            "opus",
            "--effort",
            "max",
            "--add-dir",
            "/home/u/.agent-runner/runs/r1",
            "--disallowedTools",
            "AskUserQuestion",
            "--append-system-prompt",
            "SYS",
            "--",
            "Do the step.",
        ])
    );
}

#[test]
fn headless_resume_edit_with_extra_args() {
    let mut i = inv(
        "/opt/claude",
        AgentMode::Headless,
        resume(),
        Permissions::Edit,
    );
    i.model = Some("sonnet".into());
    i.extra_args = strings(&["--max-budget-usd", "2"]);
    i.prompt = "-starts with a dash".into();
    assert_eq!(
        argv(&i),
        strings(&[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--resume",
            SID,
            "--model",
            "sonnet",
            "--permission-mode",
            "acceptEdits",
            "--add-dir",
            "/home/u/.agent-runner/runs/r1",
            "--disallowedTools",
            "AskUserQuestion",
            "--append-system-prompt",
            "SYS",
            "--max-budget-usd",
            "2",
            "--",
            "-starts with a dash",
        ])
    );
}

#[test]
fn headless_full() {
    let i = inv(
        "claude",
        AgentMode::Headless,
        new_session(),
        Permissions::Full,
    );
    assert_eq!(
        argv(&i),
        strings(&[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--session-id",
            SID,
            "--permission-mode",
            "bypassPermissions",
            "--add-dir",
            "/home/u/.agent-runner/runs/r1",
            "--disallowedTools",
            "AskUserQuestion",
            "--append-system-prompt",
            "SYS",
            "--",
            "Do the step.",
        ])
    );
}

#[test]
fn interactive_new() {
    let mut i = inv(
        "claude",
        AgentMode::Interactive,
        new_session(),
        Permissions::Ask,
    );
    i.effort = Some(Effort::Low);
    let spec = Claude.build(&i).unwrap();
    assert_eq!(spec.stdin, Stdin::Pty);
    assert_eq!(
        spec.args,
        strings(&[
            "--session-id",
            SID,
            "--effort",
            "low",
            "--add-dir",
            "/home/u/.agent-runner/runs/r1",
            "--append-system-prompt",
            "SYS",
            "--allowedTools",
            "Bash(/usr/local/bin/agent-runner step continue:*)",
            "--",
            "Do the step.",
        ])
    );
}

#[test]
fn interactive_resume() {
    let mut i = inv(
        "claude",
        AgentMode::Interactive,
        resume(),
        Permissions::Edit,
    );
    i.model = Some("opus".into());
    assert_eq!(
        argv(&i),
        strings(&[
            "--resume",
            SID,
            "--model",
            "opus",
            "--permission-mode",
            "acceptEdits",
            "--add-dir",
            "/home/u/.agent-runner/runs/r1",
            "--append-system-prompt",
            "SYS",
            "--allowedTools",
            "Bash(/usr/local/bin/agent-runner step continue:*)",
            "--",
            "Do the step.",
        ])
    );
}

#[test]
fn full_as_root_is_refused_unless_sandboxed() {
    let mut i = inv(
        "claude",
        AgentMode::Headless,
        new_session(),
        Permissions::Full,
    );
    i.host = HostFacts {
        root: true,
        is_sandbox: false,
    };
    let err = Claude.build(&i).unwrap_err();
    assert_eq!(err, BuildError::Refused(ROOT_FULL_MESSAGE.into()));
    assert_eq!(err.to_failure().class, ErrorClass::CliError);
    assert_eq!(
        err.to_string(),
        "claude refuses \"permissions: full\" when run as root; run agent-runner as a normal user, use permissions: edit, or set IS_SANDBOX=1 in a disposable sandbox"
    );
    i.host.is_sandbox = true;
    assert!(Claude.build(&i).is_ok());
    i.host.is_sandbox = false;
    i.permissions = Permissions::Edit;
    assert!(Claude.build(&i).is_ok());
}

fn parser(expected: Option<&str>) -> Box<dyn StreamParser> {
    Box::new(ClaudeParser::new(
        expected.map(str::to_string),
        "/work/proj".into(),
    ))
}

#[test]
fn parses_a_successful_turn() {
    let (events, done) = parse_fixture(parser(Some(SID)), "claude", "success");
    assert_eq!(
        events[0],
        AgentEvent::SessionStarted {
            id: SID.into(),
            model: Some("claude-sonnet-5".into())
        }
    );
    assert!(events.contains(&AgentEvent::Reasoning {
        text: "The user wants the tests run.\nLet me look.".into()
    }));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "Bash".into(),
        summary: "cargo test --quiet".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolResult {
        ok: false,
        text: "<tool_use_error>File does not exist.</tool_use_error>".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "Grep".into(),
        summary: "#\\[ignore\\]".into(),
        sub_agent: true
    }));
    assert!(events.contains(&AgentEvent::Text {
        text: "No ignored tests found.".into(),
        sub_agent: true
    }));
    assert!(events.contains(&AgentEvent::Final {
        text: ANSWER.into(),
        is_error: false
    }));
    let usage = Usage {
        input_tokens: 12,
        cached_input_tokens: 44000,
        cache_creation_tokens: 2100,
        output_tokens: 310,
        reasoning_tokens: 0,
    };
    assert!(events.contains(&AgentEvent::Usage(usage)));
    assert_eq!(
        done,
        Completion {
            models: vec![ModelUsage {
                model: "claude-sonnet-5".into(),
                usage,
                cost_usd: Some(0.0421875),
            }],
            session_id: Some(SID.into()),
            final_text: Some(ANSWER.into()),
            usage: Some(usage),
            cost_usd: Some(0.0421875),
            num_turns: Some(4),
            structured: None,
            failure: None,
            denials: Vec::new(),
        }
    );
}

#[test]
fn a_json_schema_answer_is_the_results_structured_output() {
    let (events, done) = parse_fixture(parser(Some(SID)), "claude", "structured");
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::ToolUse { tool, .. } if tool == "StructuredOutput"
    )));
    assert_eq!(done.failure, None);
    assert_eq!(
        done.structured,
        Some(serde_json::from_str(super::STRUCTURED).unwrap())
    );
    assert_eq!(done.final_text.as_deref(), Some("I reviewed the change."));
}

#[test]
fn giving_up_on_the_schema_is_output_invalid() {
    let (_, done) = parse_fixture(parser(Some(SID)), "claude", "structured_gave_up");
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::OutputInvalid);
    assert_eq!(done.structured, None);
}

#[test]
fn logged_out_is_cli_auth() {
    let (events, done) = parse_fixture(parser(Some(SID)), "claude", "logged_out");
    assert!(events.contains(&AgentEvent::Final {
        text: "Not logged in · Please run /login".into(),
        is_error: true
    }));
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::CliAuth);
    assert_eq!(
        failure.message,
        "claude is not logged in; run \"claude auth login\" (or start claude and type /login)"
    );
    assert_eq!(
        done.final_text.as_deref(),
        Some("Not logged in · Please run /login")
    );
    assert_eq!(done.session_id.as_deref(), Some(SID));
    assert_eq!(done.cost_usd, Some(0.0));
}

#[test]
fn is_error_fails_even_with_exit_zero_and_subtype_success() {
    let mut p = parser(None);
    p.feed(br#"{"type":"result","subtype":"success","is_error":true,"result":"Something broke","session_id":"x"}"#);
    let failure = p.finish(&ExitInfo::code(0)).failure.unwrap();
    assert_eq!(
        (failure.class, failure.message.as_str()),
        (ErrorClass::CliError, "Something broke")
    );
}

#[test]
fn unknown_session_is_session_missing_and_names_the_workdir() {
    let (_, done) = parse_fixture(parser(Some(SID)), "claude", "no_conversation");
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::SessionMissing);
    assert_eq!(
        failure.message,
        format!("claude has no session {SID} for /work/proj")
    );
}

#[test]
fn api_errors_warn_then_fail_as_overloaded_with_the_last_text_as_answer() {
    let (events, done) = parse_fixture(parser(Some(SID)), "claude", "api_error");
    assert!(events.contains(&AgentEvent::Warning {
        message: "API request failed, retrying (1/10): overloaded".into()
    }));
    let failure = done.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::Overloaded);
    assert_eq!(failure.message, "API Error: Repeated 529 Overloaded errors");
    assert_eq!(done.final_text.as_deref(), Some("Starting on it."));
}

#[test]
fn a_different_session_id_wins_with_a_warning() {
    let mut p = parser(Some(SID));
    let events = p.feed(br#"{"type":"system","subtype":"init","session_id":"other","model":"m"}"#);
    assert!(matches!(&events[0], AgentEvent::Warning { message } if message.contains("other")));
    assert_eq!(
        events[1],
        AgentEvent::SessionStarted {
            id: "other".into(),
            model: Some("m".into())
        }
    );
    p.feed(br#"{"type":"result","subtype":"success","is_error":false,"result":" ok ","session_id":"other"}"#);
    let done = p.finish(&ExitInfo::code(0));
    assert_eq!(
        (done.session_id.as_deref(), done.final_text.as_deref()),
        (Some("other"), Some("ok"))
    );
}

#[test]
fn non_zero_exit_without_result_is_exit_status() {
    let mut p = parser(None);
    let exit = ExitInfo {
        code: Some(1),
        signal: None,
        stderr_tail: "Error: When using --print, --output-format=stream-json requires --verbose\n"
            .into(),
    };
    let failure = p.finish(&exit).failure.unwrap();
    assert_eq!(failure.class, ErrorClass::ExitStatus);
    assert_eq!(
        failure.message,
        "claude failed with exit status 1: Error: When using --print, --output-format=stream-json requires --verbose"
    );
}

#[test]
fn project_keys() {
    assert_eq!(project_key("/tmp/clis/w"), "-tmp-clis-w");
    assert_eq!(project_key("/home/me/my_proj.v2"), "-home-me-my-proj-v2");
    assert_eq!(project_key("/tmp/é😀"), "-tmp----");
    let long = format!("/{}", "a".repeat(250));
    let hash = crate::agents::claude::java_string_hash(&long);
    assert_eq!(hash, java_hash_reference(&long));
    assert_eq!(
        project_key(&long),
        format!(
            "-{}-{}",
            "a".repeat(199),
            radix36(i64::from(hash).unsigned_abs())
        )
    );
    assert_eq!(crate::agents::claude::java_string_hash("hello"), 99162322);
    // The one string whose hash is i32::MIN: abs() must not overflow.
    assert_eq!(
        crate::agents::claude::java_string_hash("polygenelubricants"),
        i32::MIN
    );
    let wide = format!("/{}", "é".repeat(250));
    let wide_hash = i64::from(crate::agents::claude::java_string_hash(&wide)).unsigned_abs();
    assert_eq!(
        project_key(&wide),
        format!("{}-{}", "-".repeat(200), radix36(wide_hash))
    );
}

fn java_hash_reference(s: &str) -> i32 {
    let mut h: i64 = 0;
    for u in s.encode_utf16() {
        h = (h * 31 + i64::from(u)) & 0xffff_ffff;
    }
    h as u32 as i32
}

fn radix36(mut n: u64) -> String {
    let digits = "0123456789abcdefghijklmnopqrstuvwxyz".as_bytes();
    let mut s = Vec::new();
    while n > 0 {
        s.insert(0, digits[(n % 36) as usize]);
        n /= 36;
    }
    String::from_utf8(s).unwrap()
}

#[test]
fn session_exists_checks_the_project_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().to_str().unwrap().to_string();
    let env = move |k: &str| (k == "CLAUDE_CONFIG_DIR").then(|| config.clone());
    let workdir = std::path::Path::new("/work/my.proj");
    assert_eq!(Claude.session_exists(SID, workdir, &env), Some(false));
    let folder = dir.path().join("projects").join("-work-my-proj");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(format!("{SID}.jsonl")), "{}\n").unwrap();
    assert_eq!(Claude.session_exists(SID, workdir, &env), Some(true));
    let home_only = |k: &str| (k == "HOME").then(|| "/nonexistent-home".to_string());
    assert_eq!(Claude.session_exists(SID, workdir, &home_only), Some(false));
}

#[test]
fn preflight_is_skipped_with_an_api_key() {
    let none = |_: &str| None;
    assert_eq!(
        Claude.preflight_args(&none),
        Some(strings(&["auth", "status"]))
    );
    let key = |k: &str| (k == "ANTHROPIC_API_KEY").then(|| "sk-x".to_string());
    assert_eq!(Claude.preflight_args(&key), None);
    assert_eq!(
        Claude.not_installed().message,
        "the \"claude\" CLI is not installed or not on PATH; npm install -g @anthropic-ai/claude-code, or set clis.claude.binary"
    );
}

/// A headless step whose agent tries to ask the user fails with a clear message, even though
/// claude itself ends the turn normally (the tool is disallowed, so it gets a denial).
#[test]
fn asking_the_user_fails_a_headless_step() {
    let mut p = parser(Some(SID));
    let lines = [
        format!(r#"{{"type":"system","subtype":"init","session_id":"{SID}","model":"m"}}"#),
        format!(
            r#"{{"type":"assistant","session_id":"{SID}","parent_tool_use_id":null,"message":{{"content":[{{"type":"tool_use","id":"t1","name":"AskUserQuestion","input":{{"questions":[{{"question":"Which database?"}}]}}}}]}}}}"#
        ),
        format!(
            r#"{{"type":"result","subtype":"success","is_error":false,"result":"I need to know the database.","session_id":"{SID}","num_turns":2}}"#
        ),
    ];
    for line in &lines {
        p.feed(line.as_bytes());
    }
    let completion = p.finish(&ExitInfo::code(0));
    let failure = completion.failure.expect("the step fails");
    assert_eq!(failure.class, ErrorClass::AgentQuestion);
    assert_eq!(
        failure.message,
        "claude tried to ask the user a question (\"Which database?\"), but nobody can answer in a \
         headless step; put the answer in the prompt, or make the step interactive"
    );
}

#[test]
fn the_failure_classes_come_from_claudes_structured_fields() {
    for (fixture, class) in [
        ("rate_limited", ErrorClass::RateLimit),
        ("usage_limit", ErrorClass::Quota),
        ("connection_lost", ErrorClass::Network),
        ("max_turns", ErrorClass::MaxTurns),
        ("api_error", ErrorClass::Overloaded),
    ] {
        let (_, done) = parse_fixture(parser(Some(SID)), "claude", fixture);
        let failure = done.failure.expect(fixture);
        assert_eq!(failure.class, class, "{fixture}: {}", failure.message);
    }
    let (_, quota) = parse_fixture(parser(Some(SID)), "claude", "usage_limit");
    let failure = quota.failure.unwrap();
    assert_eq!(failure.message, "You've hit your usage limit · resets 3pm");
    assert_eq!(
        failure.reset_at,
        Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(super::RESETS_AT))
    );
}

#[test]
fn denied_tool_calls_are_listed_from_the_result() {
    let (events, done) = parse_fixture(parser(Some(SID)), "claude", "denied");
    assert!(!events.iter().any(|e| matches!(e, AgentEvent::Raw { .. })));
    assert_eq!(done.failure, None);
    assert_eq!(done.denials, ["Bash(rm -rf build)", "WebFetch"]);
}
