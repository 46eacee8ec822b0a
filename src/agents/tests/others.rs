//! copilot, cursor-agent, opencode and gemini: argv (agents.md §4) and fixture parsing.

use super::*;
use crate::agents::copilot::Copilot;
use crate::agents::cursor::Cursor;
use crate::agents::gemini::Gemini;
use crate::agents::opencode::Opencode;
use crate::agents::{Adapter, BuildError, ErrorClass, Usage};
use crate::workflow::model::Effort;

const PROMPT: &str = "<workflow-context>\nSYS\n</workflow-context>\n\nDo the step.";
const RUN_DIR: &str = "/home/u/.agent-runner/runs/r1";

fn argv(adapter: &dyn Adapter, i: &Invocation) -> Vec<String> {
    adapter.build(i).unwrap().args
}

fn parse(
    adapter: &dyn Adapter,
    session: SessionRequest,
    scenario: &str,
) -> (Vec<AgentEvent>, Completion) {
    let i = inv(
        adapter.default_binary(),
        AgentMode::Headless,
        session,
        Permissions::Ask,
    );
    parse_fixture(adapter.parser(&i), adapter.name(), scenario)
}

#[test]
fn copilot_argv() {
    let mut i = inv(
        "copilot",
        AgentMode::Headless,
        new_session(),
        Permissions::Edit,
    );
    i.model = Some("gpt-5.5".into());
    i.effort = Some(Effort::Max);
    let prompt_arg = format!("--prompt={PROMPT}");
    assert_eq!(
        argv(&Copilot, &i),
        strings(&[
            "--output-format",
            "json",
            "--no-ask-user",
            "--no-auto-update",
            &format!("--session-id={SID}"),
            "--model",
            "gpt-5.5",
            "--reasoning-effort",
            "max",
            "--allow-all-tools",
            "--add-dir",
            RUN_DIR,
            &prompt_arg,
        ])
    );
    let mut r = inv("copilot", AgentMode::Headless, resume(), Permissions::Full);
    r.system_text.clear();
    assert_eq!(
        argv(&Copilot, &r),
        strings(&[
            "--output-format",
            "json",
            "--no-ask-user",
            "--no-auto-update",
            &format!("--resume={SID}"),
            "--allow-all",
            "--prompt=Do the step.",
        ])
    );
    let interactive = inv(
        "copilot",
        AgentMode::Interactive,
        resume(),
        Permissions::Ask,
    );
    assert_eq!(
        argv(&Copilot, &interactive),
        strings(&[
            &format!("--resume={SID}"),
            "--add-dir",
            RUN_DIR,
            &format!("--interactive={PROMPT}")
        ])
    );
}

#[test]
fn copilot_stream() {
    let (events, done) = parse(&Copilot, new_session(), "success");
    assert_eq!(
        events[0],
        AgentEvent::SessionStarted {
            id: SID.into(),
            model: None
        }
    );
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "bash".into(),
        summary: "cargo test".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolResult {
        ok: false,
        text: "Path does not exist".into(),
        sub_agent: false
    }));
    assert_eq!(done.final_text.as_deref(), Some(ANSWER));
    assert_eq!(done.failure, None);
    let u = done.usage.unwrap();
    assert_eq!(
        (u.input_tokens, u.cached_input_tokens, u.output_tokens),
        (5200, 4100, 310)
    );
    let (_, out) = parse(&Copilot, new_session(), "logged_out");
    assert_eq!(out.failure.unwrap().class, ErrorClass::CliAuth);
    let (_, missing) = parse(&Copilot, resume(), "no_session");
    assert_eq!(
        missing.failure.unwrap().message,
        format!("copilot has no session {SID}")
    );
}

#[test]
fn cursor_argv() {
    let mut i = inv(
        "cursor-agent",
        AgentMode::Headless,
        resume(),
        Permissions::Full,
    );
    i.model = Some("sonnet-4.5".into());
    assert_eq!(
        argv(&Cursor, &i),
        strings(&[
            "-p",
            "--output-format",
            "stream-json",
            "--trust",
            "--model",
            "sonnet-4.5",
            "--force",
            "--resume",
            SID,
            "--",
            PROMPT,
        ])
    );
    let new = inv(
        "cursor-agent",
        AgentMode::Interactive,
        SessionRequest::New { preassigned: None },
        Permissions::Ask,
    );
    assert_eq!(argv(&Cursor, &new), strings(&["--", PROMPT]));
}

#[test]
fn cursor_stream() {
    let (events, done) = parse(
        &Cursor,
        SessionRequest::New { preassigned: None },
        "success",
    );
    assert_eq!(
        events[0],
        AgentEvent::SessionStarted {
            id: SID.into(),
            model: Some("Claude 4.5 Sonnet".into())
        }
    );
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "Read".into(),
        summary: "README.md".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "Shell".into(),
        summary: "cargo test --quiet".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolResult {
        ok: false,
        text: String::new(),
        sub_agent: false
    }));
    assert_eq!(
        (done.final_text.as_deref(), done.failure),
        (Some(ANSWER), None)
    );
    assert_eq!(done.usage.unwrap().output_tokens, 240);
    let (_, out) = parse(
        &Cursor,
        SessionRequest::New { preassigned: None },
        "logged_out",
    );
    assert_eq!(out.failure.unwrap().class, ErrorClass::CliAuth);
}

#[test]
fn opencode_argv() {
    let mut i = inv("opencode", AgentMode::Headless, resume(), Permissions::Full);
    i.model = Some("anthropic/claude-sonnet-5".into());
    i.effort = Some(Effort::High);
    assert_eq!(
        argv(&Opencode, &i),
        strings(&[
            "run",
            "--format",
            "json",
            "-m",
            "anthropic/claude-sonnet-5",
            "--variant",
            "high",
            "-s",
            SID,
            "--auto",
            "--",
            PROMPT,
        ])
    );
    let mut t = inv(
        "opencode",
        AgentMode::Interactive,
        SessionRequest::New { preassigned: None },
        Permissions::Edit,
    );
    t.model = Some("m".into());
    assert_eq!(
        argv(&Opencode, &t),
        strings(&["-m", "m", &format!("--prompt={PROMPT}")])
    );
    let r = inv(
        "opencode",
        AgentMode::Interactive,
        resume(),
        Permissions::Ask,
    );
    assert!(matches!(
        Opencode.build(&r),
        Err(BuildError::Unsupported { .. })
    ));
    assert!(!Opencode.capabilities().resume_interactive);
}

#[test]
fn opencode_stream() {
    let (events, done) = parse(
        &Opencode,
        SessionRequest::New { preassigned: None },
        "success",
    );
    assert_eq!(
        events[0],
        AgentEvent::SessionStarted {
            id: SID.into(),
            model: None
        }
    );
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "read".into(),
        summary: "/work/proj/missing.rs".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolResult {
        ok: false,
        text: "File not found".into(),
        sub_agent: false
    }));
    assert_eq!(done.final_text.as_deref(), Some(ANSWER));
    assert_eq!(
        done.usage,
        Some(Usage {
            input_tokens: 10800,
            cached_input_tokens: 8100,
            cache_creation_tokens: 800,
            output_tokens: 210,
            reasoning_tokens: 30
        })
    );
    assert!((done.cost_usd.unwrap() - 0.02).abs() < 1e-9);
    let (_, err) = parse(
        &Opencode,
        SessionRequest::New { preassigned: None },
        "error",
    );
    assert_eq!(err.failure.unwrap().class, ErrorClass::CliAuth);
    let (_, missing) = parse(&Opencode, resume(), "no_session");
    assert_eq!(
        missing.failure.unwrap().message,
        format!("opencode has no session {SID}")
    );
}

#[test]
fn gemini_argv() {
    let mut i = inv(
        "gemini",
        AgentMode::Headless,
        new_session(),
        Permissions::Edit,
    );
    i.model = Some("gemini-2.5-pro".into());
    assert_eq!(
        argv(&Gemini, &i),
        strings(&[
            "--output-format",
            "stream-json",
            "--skip-trust",
            "-m",
            "gemini-2.5-pro",
            "--approval-mode",
            "auto_edit",
            "--include-directories",
            RUN_DIR,
            "--session-id",
            SID,
            &format!("--prompt={PROMPT}"),
        ])
    );
    let r = inv(
        "gemini",
        AgentMode::Interactive,
        resume(),
        Permissions::Full,
    );
    assert_eq!(
        argv(&Gemini, &r),
        strings(&[
            "--approval-mode",
            "yolo",
            "-r",
            SID,
            &format!("--prompt-interactive={PROMPT}")
        ])
    );
    let a = inv("gemini", AgentMode::Headless, resume(), Permissions::Ask);
    assert_eq!(
        argv(&Gemini, &a)[3..6],
        strings(&["--approval-mode", "default", "-r"])
    );
}

#[test]
fn gemini_stream() {
    let (events, done) = parse(&Gemini, new_session(), "success");
    assert_eq!(
        events[0],
        AgentEvent::SessionStarted {
            id: SID.into(),
            model: Some("gemini-2.5-pro".into())
        }
    );
    assert!(events.contains(&AgentEvent::Text {
        text: "I'll list the files.".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "run_shell_command".into(),
        summary: "ls -la".into(),
        sub_agent: false
    }));
    assert!(events.contains(&AgentEvent::ToolResult {
        ok: false,
        text: "File not found".into(),
        sub_agent: false
    }));
    assert_eq!(
        (done.final_text.as_deref(), done.failure),
        (Some(ANSWER), None)
    );
    let u = done.usage.unwrap();
    assert_eq!(
        (u.input_tokens, u.cached_input_tokens, u.output_tokens),
        (9000, 6000, 300)
    );
    let (_, out) = parse(&Gemini, new_session(), "logged_out");
    assert_eq!(out.failure.unwrap().class, ErrorClass::CliAuth);
    let (_, limit) = parse(&Gemini, new_session(), "turn_limit");
    let failure = limit.failure.unwrap();
    assert_eq!(failure.class, ErrorClass::MaxTurns);
    assert!(failure.message.starts_with("Reached max session turns"));
    let (_, missing) = parse(&Gemini, resume(), "no_session");
    assert_eq!(
        missing.failure.unwrap().message,
        format!("gemini has no session {SID}")
    );
}

#[test]
fn registry_has_every_cli_in_order() {
    let names: Vec<&str> = crate::agents::adapters().iter().map(|a| a.name()).collect();
    assert_eq!(names, crate::workflow::model::CLI_NAMES);
    assert!(crate::agents::adapter("aider").is_none());
}
