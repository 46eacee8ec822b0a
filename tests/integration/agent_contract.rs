//! Contract tests against the real agent CLIs, run only with `AGENT_RUNNER_CONTRACT=1` on a
//! machine where they are installed and logged in (`cargo test --test integration contract --
//! --ignored`). They spend a few cents.

use std::process::Command;

use agent_runner::agents::{self, ExitInfo, Invocation, SessionRequest};

fn enabled() -> bool {
    std::env::var("AGENT_RUNNER_CONTRACT").is_ok_and(|v| v == "1")
}

/// Runs `codex exec --json [resume <id>] <prompt>` and parses it with the adapter's parser as a
/// step would; returns the thread id, the step's usage and the raw `turn.completed` usage.
fn codex_turn(dir: &std::path::Path, resume: Option<&str>) -> (String, u64, String) {
    let inv = Invocation {
        binary: "codex".into(),
        mode: agent_runner::workflow::AgentMode::Headless,
        session: match resume {
            Some(id) => SessionRequest::Resume { id: id.to_owned() },
            None => SessionRequest::New { preassigned: None },
        },
        prompt: "Reply with the single word: pong".into(),
        system_text: String::new(),
        model: None,
        effort: None,
        permissions: agent_runner::workflow::Permissions::Edit,
        workdir: dir.to_path_buf(),
        run_dir: dir.to_path_buf(),
        extra_args: vec!["--skip-git-repo-check".into()],
        runner_exe: "agent-runner".into(),
        host: agents::HostFacts::detect(),
        max_budget_usd: None,
        session_before: None,
        output_schema: None,
    };
    let adapter = agents::adapter("codex").expect("codex adapter");
    let spec = adapter.build(&inv).expect("argv");
    let out = Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(dir)
        .output()
        .expect("codex runs");
    let mut parser = adapter.parser(&inv);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in stdout.lines() {
        parser.feed(line.as_bytes());
    }
    let completion = parser.finish(&ExitInfo::code(out.status.code().unwrap_or(1)));
    assert!(
        completion.failure.is_none(),
        "{:?}\n{stdout}",
        completion.failure
    );
    let raw = stdout
        .lines()
        .find(|l| l.contains("\"turn.completed\""))
        .unwrap_or_default()
        .to_owned();
    let usage = completion.usage.expect("usage");
    (
        completion.session_id.expect("thread id"),
        parser.tokens_of(&usage),
        raw,
    )
}

#[test]
#[ignore = "needs the real codex CLI, logged in, and AGENT_RUNNER_CONTRACT=1"]
fn contract_codex_usage_is_per_turn_on_a_resumed_thread() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (thread, first, _) = codex_turn(dir.path(), None);
    let (again, second, raw) = codex_turn(dir.path(), Some(&thread));
    assert_eq!(again, thread);
    // The thread's own total, from its rollout, is the two steps' figures added up: whether the
    // CLI reported the second turn cumulatively or per turn, the adapter kept the turn's own.
    let home = std::env::var("CODEX_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".codex")
        });
    let rollout = find(&home.join("sessions"), &format!("-{thread}.jsonl")).expect("rollout");
    let total = std::fs::read_to_string(rollout)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.pointer("/payload/info/total_token_usage").cloned())
        .next_back()
        .expect("a token_count in the rollout");
    let field = |k: &str| {
        total
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    assert_eq!(
        first + second,
        field("input_tokens") + field("output_tokens"),
        "reported on resume: {raw}"
    );
}

fn find(dir: &std::path::Path, suffix: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find(&path, suffix) {
                return Some(found);
            }
        } else if path.to_string_lossy().ends_with(suffix) {
            return Some(path);
        }
    }
    None
}
