//! Adapter tests: exact argv for every case, and parsing of every recorded fixture.

mod claude;
mod codex;
mod others;

use std::path::PathBuf;

use crate::agents::fixture::{FixtureVars, render_fixture};
use crate::agents::{
    AgentEvent, Completion, ExitInfo, HostFacts, Invocation, SessionRequest, StreamParser,
};
use crate::workflow::model::{AgentMode, Permissions};

/// `{{resets_at}}` in the fixtures the adapter tests parse.
pub const RESETS_AT: u64 = 1_900_000_000;
pub const SID: &str = "5b2f8a8e-1111-4222-8333-444455556666";
pub const ANSWER: &str = "All 12 tests pass.\nNothing is left undone.";

/// A typical invocation; tests change the fields they care about.
pub fn inv(
    binary: &str,
    mode: AgentMode,
    session: SessionRequest,
    permissions: Permissions,
) -> Invocation {
    Invocation {
        binary: binary.to_string(),
        mode,
        session,
        prompt: "Do the step.".to_string(),
        system_text: "SYS".to_string(),
        model: None,
        effort: None,
        permissions,
        workdir: PathBuf::from("/work/proj"),
        run_dir: PathBuf::from("/home/u/.agent-runner/runs/r1"),
        extra_args: Vec::new(),
        runner_exe: PathBuf::from("/usr/local/bin/agent-runner"),
        host: HostFacts::default(),
        max_budget_usd: None,
        session_before: None,
        output_schema: None,
    }
}

pub fn new_session() -> SessionRequest {
    SessionRequest::New {
        preassigned: Some(SID.to_string()),
    }
}

pub fn resume() -> SessionRequest {
    SessionRequest::Resume {
        id: SID.to_string(),
    }
}

/// The structured answer of the fixtures with `{{json}}`.
pub const STRUCTURED: &str = r#"{"verdict":"pass","issues":[]}"#;

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Parses `tests/fixtures/streams/<cli>/<scenario>.jsonl` with `parser`, finishing with the
/// fixture's exit status and stderr.
pub fn parse_fixture(
    mut parser: Box<dyn StreamParser>,
    cli: &str,
    scenario: &str,
) -> (Vec<AgentEvent>, Completion) {
    let path = format!(
        "{}/tests/fixtures/streams/{cli}/{scenario}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let template = std::fs::read_to_string(&path).unwrap();
    let fixture = render_fixture(
        &template,
        &FixtureVars {
            session_id: SID,
            text: ANSWER,
            cwd: "/work/proj",
            home: "/home/u",
            resets_at: RESETS_AT,
            json: STRUCTURED,
        },
    );
    let mut events = Vec::new();
    for line in &fixture.lines {
        events.extend(parser.feed(line.as_bytes()));
    }
    let exit = ExitInfo {
        code: Some(fixture.exit),
        signal: None,
        stderr_tail: fixture.stderr.join("\n"),
    };
    let completion = parser.finish(&exit);
    (events, completion)
}

/// Every parser survives hostile input: truncated JSON, binary, huge lines.
#[test]
fn parsers_never_panic_on_bad_lines() {
    for adapter in crate::agents::adapters() {
        let invocation = inv(
            adapter.default_binary(),
            AgentMode::Headless,
            new_session(),
            Permissions::Ask,
        );
        let mut parser = adapter.parser(&invocation);
        let cases: Vec<Vec<u8>> = vec![
            b"{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"te".to_vec(),
            b"\xff\xfe not utf8".to_vec(),
            b"plain text".to_vec(),
            b"{\"type\":42,\"item\":[],\"message\":\"x\",\"result\":{},\"usage\":7}".to_vec(),
            b"{\"type\":\"result\",\"usage\":{\"input_tokens\":\"many\"},\"errors\":[1,{}]}"
                .to_vec(),
            b"[1,2,3]".to_vec(),
            b"".to_vec(),
            b"{}\r".to_vec(),
        ];
        for case in cases {
            let _ = parser.feed(&case);
        }
        let truncated = parser.feed(b"{\"type\":\"thread.started\",\"thread_id\":\"ab");
        assert!(
            matches!(truncated.as_slice(), [AgentEvent::Raw { .. }]),
            "{}: {truncated:?}",
            adapter.name()
        );
        let huge = vec![b'a'; crate::agents::MAX_LINE_BYTES + 1];
        assert!(matches!(
            parser.feed(&huge).as_slice(),
            [AgentEvent::Warning { .. }]
        ));
        let _ = parser.finish(&ExitInfo {
            code: None,
            signal: Some(9),
            stderr_tail: String::new(),
        });
    }
}
