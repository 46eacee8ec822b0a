//! Agent steps when things go wrong, through the real binary (agents.md §8, cli.md §4,
//! runs-and-state.md §5, §9): CLIs that are missing or logged out, unknown CLIs, broken stream
//! lines, agents that crash or are interrupted mid-turn and the resume that continues their
//! session, and a headless agent that would like to ask the user something.

use std::time::Duration;

use nix::sys::signal::Signal;
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::test::{ALL_CLIS, Output, Test, agent_workflow, headless_preamble};

/// Exactly the stderr of a run stopped by preflight; no run dir may exist afterwards.
fn preflight_fails(test: Test, stderr: &str) {
    let out = test.status(4).stderr(stderr).run();
    assert!(out.run_dirs().is_empty(), "{:?}", out.run_dirs());
    assert!(out.turns().is_empty());
}

#[test]
fn missing_binary_stops_the_run_in_preflight() {
    let test = Test::new().fake_clis(&["codex"]).workflow(
        "w",
        "name: w\nsteps:\n  - {id: sh, command: 'true'}\n  - id: grp\n    steps:\n      - {id: a, mode: headless, prompt: p}\n",
    );
    preflight_fails(
        test.arg("w"),
        "agent-runner: error: the \"claude\" CLI is not installed or not on PATH (needed by step \"grp/a\"); npm install -g @anthropic-ai/claude-code\n",
    );
}

#[test]
fn a_cli_needed_only_by_a_skip_if_step_is_not_preflighted() {
    let out = Test::new()
        .fake_clis(&["claude"])
        .workflow(
            "w",
            "name: w\nsteps:\n\
             \x20 - {id: a, mode: headless, prompt: p}\n\
             \x20 - {id: b, mode: headless, cli: codex, session: new, skip_if: previous_success, prompt: p}\n",
        )
        .arg("w")
        .stderr_contains("==> 2/2 b [skipped: previous step succeeded]\n")
        .run();
    assert_eq!(out.turns().len(), 1);
}

#[test]
fn logged_out_cli_stops_the_run_in_preflight() {
    let claude = Test::new()
        .fake_clis(ALL_CLIS)
        .workflow(
            "w",
            "name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n",
        )
        .env("FAKE_AGENT_LOGGED_OUT", "1")
        .arg("w");
    preflight_fails(
        claude,
        "agent-runner: error: claude is not logged in (needed by step \"a\"); run \"claude auth login\" and start again\n",
    );
    let codex = Test::new()
        .fake_clis(ALL_CLIS)
        .workflow(
            "w",
            "name: w\nsteps:\n  - {id: a, mode: headless, cli: codex, prompt: p}\n",
        )
        .env("FAKE_AGENT_LOGGED_OUT", "1")
        .arg("w");
    preflight_fails(
        codex,
        "agent-runner: error: codex is not logged in (needed by step \"a\"); run \"codex login\" and start again\n",
    );
}

#[test]
fn logged_out_at_run_time_fails_with_cli_auth_and_can_be_resumed() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n")
        .env("FAKE_AGENT_LOGGED_OUT", "1")
        .env("AGENT_RUNNER_SKIP_PREFLIGHT", "1")
        .status(4)
        .run();
    let run_id = out.run_id();
    let id = out.turn_session(0);
    let reason =
        "claude is not logged in; run \"claude auth login\" (or start claude and type /login)";
    assert!(
        out.stderr.contains(&format!("  failed: {reason} (")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(&format!(
            ")\n\nagent-runner: step \"1/1 a\" failed: {reason}\nto resume: agent-runner --resume {run_id}\n"
        )),
        "{}",
        out.stderr
    );
    let state = out.state();
    assert_eq!(state["status"], "failed");
    assert_eq!(
        state["last_failure"],
        json!({"path": "a", "class": "cli_auth", "message": reason})
    );
    assert_eq!(
        out.events("step_end")[0]["data"]["error"],
        json!({"class": "cli_auth", "message": reason})
    );
    // After logging in, the run resumes and continues the same conversation.
    let out = out
        .again()
        .env_remove("FAKE_AGENT_LOGGED_OUT")
        .args(["--resume", &run_id])
        .run();
    let argv = &out.turn_argvs()[1];
    assert!(
        argv.windows(2).any(|w| w == ["--resume", id.as_str()]),
        "{argv:?}"
    );
    assert_eq!(out.state()["status"], "completed");
}

#[test]
fn an_unknown_cli_is_a_validation_error() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, cli: claud, prompt: p}\n")
        .status(3)
        .stderr_contains(
            ".agent-runner/workflows/w.yaml:3:34: error[unknown-cli]: steps[0] (id \"a\"): unknown cli \"claud\" (did you mean \"claude\"?)",
        )
        .run();
    assert!(out.turns().is_empty());
    assert!(out.run_dirs().is_empty());
}

#[test]
fn stream_lines_that_are_not_json_are_kept_and_shown() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p, capture: c}\n")
        .fake_script(
            &"- [{print: 'warming up, not JSON'}, {print: '{\"type\":\"assistant\",\"message\":{'}, {text: fine}]\n"
                .repeat(2),
        )
        .run();
    assert!(
        out.stdout
            .starts_with("  warming up, not JSON\n  {\"type\":\"assistant\",\"message\":{\n"),
        "{}",
        out.stdout
    );
    let stream = out.output_file(".stream.jsonl");
    assert!(
        stream.starts_with(
            "warming up, not JSON\n{\"type\":\"assistant\",\"message\":{\n{\"type\":\"system\""
        ),
        "{stream}"
    );
    assert_eq!(out.state()["scope"]["captures"]["c"], "fine");
    // On a colour console the raw line is dimmed; the text file stays plain.
    let out = out.again().env("CLICOLOR_FORCE", "1").arg("w").run();
    assert!(
        out.stdout
            .starts_with("\x1b[2m  warming up, not JSON\x1b[0m\n"),
        "{:?}",
        out.stdout
    );
    let newest = out.run_dirs().pop().unwrap();
    let txt = std::fs::read_dir(newest.join("output"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".txt"))
        .unwrap();
    let txt = std::fs::read_to_string(txt.path()).unwrap();
    assert!(
        txt.starts_with("  warming up, not JSON\n") && !txt.contains('\x1b'),
        "{txt:?}"
    );
}

/// Runs a one-step workflow whose agent crashes mid-stream; returns the failed run.
fn crashed(cli: &str) -> Output {
    let out = agent_workflow(&format!(
        "name: w\nsteps:\n  - {{id: a, mode: headless, cli: {cli}, prompt: p}}\n"
    ))
    .fake_script("- [crash_mid_stream]\n")
    .status(1)
    .run();
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(
        (&end["outcome"], &end["signal"]),
        (&json!("failed"), &json!("SIGABRT"))
    );
    // The cut-off last line is kept as it came and shown as raw text.
    let stream = out.output_file(".stream.jsonl");
    assert!(!stream.ends_with('\n'), "{stream}");
    let cut = stream.lines().last().unwrap();
    assert!(
        out.stdout.ends_with(&format!("  {cut}\n")),
        "{}",
        out.stdout
    );
    assert_eq!(out.state()["status"], "failed");
    out
}

#[test]
fn claude_crash_mid_stream_then_resume_continues_the_session() {
    let out = crashed("claude");
    let (run_id, id) = (out.run_id(), out.turn_session(0));
    assert_eq!(out.state()["position"]["agent"]["session_id"], id);
    let out = out.again().args(["--resume", &run_id]).run();
    let argv = &out.turn_argvs()[1];
    assert!(
        argv.windows(2).any(|w| w == ["--resume", id.as_str()]),
        "{argv:?}"
    );
}

#[test]
fn claude_resume_reuses_the_preassigned_id_the_cli_never_saved() {
    let out = crashed("claude");
    let (run_id, id) = (out.run_id(), out.turn_session(0));
    // As if claude had died before writing its session file.
    let projects = out.tempdir.path().join("home/.claude/projects");
    let mut removed = 0;
    for dir in std::fs::read_dir(&projects).unwrap().flatten() {
        let file = dir.path().join(format!("{id}.jsonl"));
        if file.exists() {
            std::fs::remove_file(file).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 1);
    let out = out.again().args(["--resume", &run_id]).run();
    let argv = &out.turn_argvs()[1];
    assert!(
        argv.windows(2).any(|w| w == ["--session-id", id.as_str()]),
        "{argv:?}"
    );
    assert!(!argv.contains(&"--resume".to_owned()), "{argv:?}");
}

#[test]
fn codex_crash_mid_stream_then_resume_continues_the_thread() {
    let out = crashed("codex");
    let (run_id, thread) = (out.run_id(), out.turn_session(0));
    assert_eq!(out.state()["position"]["agent"]["session_id"], thread);
    let out = out.again().args(["--resume", &run_id]).run();
    let argv = &out.turn_argvs()[1];
    let exec = argv.iter().position(|a| a == "exec").unwrap();
    assert_eq!(argv[exec + 1], "resume");
    let sep = argv.iter().position(|a| a == "--").unwrap();
    assert_eq!(argv[sep + 1], thread);
}

#[test]
fn sigterm_interrupts_a_hanging_agent_and_resume_continues_its_session() {
    let mut running = agent_workflow(
        "name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n  - {id: b, command: 'echo after'}\n",
    )
    .fake_script("- [hang]\n")
    .status(130)
    .spawn();
    // The fake logs its turn before it creates the session file; a signal in between would leave
    // no session to resume, so wait for the file too.
    running.wait_until(Duration::from_secs(60), "the agent's session", |root| {
        std::fs::read_to_string(root.join("fake-agent.log"))
            .is_ok_and(|log| log.contains("\"mode\":\"headless\""))
            && has_jsonl(&root.join("home/.claude/projects"))
    });
    running.signal(Signal::SIGTERM);
    let out = running.finish(Duration::from_secs(60));
    let (run_id, id) = (out.run_id(), out.turn_session(0));
    assert!(
        out.stderr.ends_with(&format!(
            "\nagent-runner: interrupted; state saved\nto resume: agent-runner --resume {run_id}\n"
        )),
        "{}",
        out.stderr
    );
    let state = out.state();
    assert_eq!(state["status"], "interrupted");
    assert_eq!(state["position"]["state"], "interrupted");
    assert_eq!(
        state["position"]["agent"],
        json!({"cli": "claude", "strategy": "new", "session_id": id, "preassigned": true})
    );
    assert_eq!(out.events("step_end")[0]["data"]["outcome"], "interrupted");
    let out = out.again().args(["--resume", &run_id]).run();
    let argv = &out.turn_argvs()[1];
    assert!(
        argv.windows(2).any(|w| w == ["--resume", id.as_str()]),
        "{argv:?}"
    );
    let system = &argv[argv
        .iter()
        .position(|a| a == "--append-system-prompt")
        .unwrap()
        + 1];
    assert_eq!(
        system,
        &format!(
            "{} Your previous attempt at this step was interrupted. Check what is already done, then finish the rest.",
            headless_preamble("a", "w")
        )
    );
    assert!(out.stdout.ends_with("after\n"), "{}", out.stdout);
}

#[test]
fn a_headless_agent_may_not_ask_the_user() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n").run();
    let argv = &out.turn_argvs()[0];
    let at = argv.iter().position(|a| a == "--disallowedTools").unwrap();
    // The variadic option is closed by the next option, so it takes exactly one tool.
    assert_eq!(
        argv[at + 1..at + 3],
        ["AskUserQuestion", "--append-system-prompt"]
    );
    assert!(argv[at + 3].contains(
        "Nobody will answer questions before this step ends. Do not ask for confirmation or clarification"
    ));
}

#[test]
fn an_agent_killed_by_a_signal_names_the_signal() {
    agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n")
        .fake_script("- [crash_mid_stream]\n")
        .status(1)
        .stderr_contains("killed by signal SIGABRT")
        .run();
}

#[test]
fn resuming_an_interrupted_resume_step_passes_the_session_model_again() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: a, mode: headless, model: opus, effort: high, prompt: a}\n\
         \x20 - {id: b, mode: headless, prompt: b}\n",
    )
    .fake_script("- ~\n- [crash_mid_stream]\n")
    .status(1)
    .run();
    let (run_id, id) = (out.run_id(), out.turn_session(0));
    let out = out.again().args(["--resume", &run_id]).run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 3);
    for argv in &argvs[1..] {
        assert!(
            argv.windows(6).any(|w| w
                == [
                    "--resume",
                    id.as_str(),
                    "--model",
                    "opus",
                    "--effort",
                    "high"
                ]),
            "{argv:?}"
        );
    }
}

#[test]
fn a_cli_missing_at_run_time_fails_the_step_with_cli_missing() {
    // A `resume` step's CLI is not known before the run, so preflight does not check it.
    let out = Test::new()
        .fake_clis(&["claude"])
        .workflow(
            "w",
            "name: w\ndefaults: {cli: codex}\nsteps:\n  - {id: a, mode: headless, session: resume, prompt: p}\n",
        )
        .arg("w")
        .status(4)
        .run();
    let message = "the \"codex\" CLI is not installed or not on PATH; npm install -g @openai/codex, or set clis.codex.binary";
    assert!(
        out.stderr
            .contains(&format!("agent-runner: step \"1/1 a\" failed: {message}\n")),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.state()["last_failure"],
        json!({"path": "a", "class": "cli_missing", "message": message})
    );
}

#[test]
fn a_headless_agent_that_asks_the_user_fails_the_step_with_a_clear_message() {
    agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: p}\n")
        .fake_script("- [{emit: {fixture: asks_user, text: \"Which database should I use?\"}}]\n")
        .status(1)
        .stderr_contains(
            "agent-runner: step \"1/1 a\" failed: claude tried to ask the user a question \
             (\"Which database should I use?\"), but nobody can answer in a headless step; put the \
             answer in the prompt, or make the step interactive [agent_question]\n",
        )
        .run();
}

/// Whether a `.jsonl` file (a session of the fake claude) exists anywhere under `dir`.
fn has_jsonl(dir: &std::path::Path) -> bool {
    crate::test::any_file_below(dir, &|path| path.extension().is_some_and(|e| e == "jsonl"))
}
