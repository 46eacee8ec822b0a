//! Parser throughput: generates ~100 MB claude and codex streams (text, tool calls, tool results
//! with large outputs, in proportions like a real session) and prints MB/s for each parser.
//! Run with `cargo bench --bench stream_parse`. Target: at least 300 MB/s for both.

use std::path::PathBuf;
use std::time::Instant;

use agent_runner::agents::{self, ExitInfo, HostFacts, Invocation, SessionRequest};
use agent_runner::workflow::model::{AgentMode, Permissions};

const TARGET_BYTES: usize = 100 * 1024 * 1024;
const SID: &str = "5b2f8a8e-1111-4222-8333-444455556666";

fn claude_cycle(i: usize) -> Vec<String> {
    let output = "test result: ok. 12 passed; 0 failed\\n".repeat(40);
    let text =
        "I'll run the tests, then look at the failure in \\\"src/lib.rs\\\" and fix it. ".repeat(6);
    vec![
        format!(
            r#"{{"type":"assistant","message":{{"id":"msg_{i}","container":null,"model":"claude-sonnet-5","role":"assistant","stop_reason":null,"type":"message","usage":{{"input_tokens":3,"output_tokens":40,"cache_read_input_tokens":11000}},"content":[{{"type":"text","text":"{text}"}}],"context_management":null}},"parent_tool_use_id":null,"session_id":"{SID}","uuid":"1f0c2b7e-0000-4000-8000-{i:012}"}}"#
        ),
        format!(
            r#"{{"type":"assistant","message":{{"id":"msg_{i}","model":"claude-sonnet-5","role":"assistant","type":"message","content":[{{"type":"tool_use","id":"toolu_{i}","name":"Bash","input":{{"command":"cargo test --quiet","description":"Run the tests"}}}}]}},"parent_tool_use_id":null,"session_id":"{SID}","uuid":"1f0c2b7e-0000-4000-8001-{i:012}"}}"#
        ),
        format!(
            r#"{{"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_{i}","type":"tool_result","content":"{output}","is_error":false}}]}},"parent_tool_use_id":null,"session_id":"{SID}","uuid":"1f0c2b7e-0000-4000-8002-{i:012}","tool_use_result":{{"stdout":"{output}","stderr":"","interrupted":false}}}}"#
        ),
    ]
}

fn codex_cycle(i: usize) -> Vec<String> {
    let output = "test result: ok. 12 passed; 0 failed\\n".repeat(40);
    let text = "I ran the tests and fixed the failure in `src/lib.rs`. ".repeat(6);
    vec![
        format!(
            r#"{{"type":"item.completed","item":{{"id":"item_{i}a","type":"reasoning","text":"**Checking tests**\n\n{text}"}}}}"#
        ),
        format!(
            r#"{{"type":"item.started","item":{{"id":"item_{i}","type":"command_execution","command":"/bin/bash -lc 'cargo test --quiet'","aggregated_output":"","exit_code":null,"status":"in_progress"}}}}"#
        ),
        format!(
            r#"{{"type":"item.completed","item":{{"id":"item_{i}","type":"command_execution","command":"/bin/bash -lc 'cargo test --quiet'","aggregated_output":"{output}","exit_code":0,"status":"completed"}}}}"#
        ),
        format!(
            r#"{{"type":"item.completed","item":{{"id":"item_{i}b","type":"agent_message","text":"{text}"}}}}"#
        ),
    ]
}

fn generate(first: &str, cycle: fn(usize) -> Vec<String>, last: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(TARGET_BYTES + 4096);
    out.extend_from_slice(first.as_bytes());
    out.push(b'\n');
    let mut i = 0;
    while out.len() < TARGET_BYTES {
        for line in cycle(i) {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        i += 1;
    }
    out.extend_from_slice(last.as_bytes());
    out.push(b'\n');
    out
}

fn invocation(cli: &str) -> Invocation {
    Invocation {
        binary: cli.into(),
        mode: AgentMode::Headless,
        session: SessionRequest::New {
            preassigned: Some(SID.into()),
        },
        prompt: String::new(),
        system_text: String::new(),
        model: None,
        effort: None,
        permissions: Permissions::Edit,
        workdir: PathBuf::from("/work"),
        run_dir: PathBuf::from("/run"),
        extra_args: Vec::new(),
        runner_exe: PathBuf::from("/bin/agent-runner"),
        host: HostFacts::default(),
        max_budget_usd: None,
        session_before: None,
        output_schema: None,
    }
}

/// Parses `stream` line by line; returns MB/s (best of three) and the event count.
fn measure(cli: &str, stream: &[u8]) -> (f64, usize) {
    let Some(adapter) = agents::adapter(cli) else {
        return (0.0, 0);
    };
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..3 {
        let mut parser = adapter.parser(&invocation(cli));
        let start = Instant::now();
        events = 0;
        for line in stream.split(|b| *b == b'\n') {
            events += parser.feed(line).len();
        }
        let done = parser.finish(&ExitInfo::code(0));
        best = best.min(start.elapsed().as_secs_f64());
        assert!(done.failure.is_none(), "{cli}: {:?}", done.failure);
    }
    (stream.len() as f64 / 1e6 / best, events)
}

fn main() {
    let claude = generate(
        &format!(
            r#"{{"type":"system","subtype":"init","cwd":"/work","session_id":"{SID}","tools":["Bash","Read"],"model":"claude-sonnet-5"}}"#
        ),
        claude_cycle,
        &format!(
            r#"{{"type":"result","subtype":"success","is_error":false,"num_turns":1000,"result":"Done.","session_id":"{SID}","total_cost_usd":12.5,"usage":{{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":4}}}}"#
        ),
    );
    let codex = generate(
        r#"{"type":"thread.started","thread_id":"01a1fd5b-e29d-75b1-bd5f-a99b51c09c68"}"#,
        codex_cycle,
        r#"{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":422}}"#,
    );
    for (cli, stream) in [("claude", &claude), ("codex", &codex)] {
        let (mbps, events) = measure(cli, stream);
        println!(
            "{cli}: {:.0} MB parsed at {mbps:.0} MB/s ({events} events)",
            stream.len() as f64 / 1e6
        );
    }
}
