//! Headless agent steps through the real binary, with `fake-agent` playing each CLI: the exact
//! command lines (agents.md §2–§4), the child's environment and stdin (§9), the headless framing
//! (§7), the rendered stream and the output files (§6), usage lines (cli.md §6) and `capture`
//! (workflow-format.md §9).

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::test::{Output, Test, agent_workflow, headless_preamble, line_starting};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn run_dir_text(out: &Output) -> String {
    out.run_dir().display().to_string()
}

#[test]
fn claude_new_and_resume_command_lines_are_exact() {
    let out = agent_workflow(
        "name: Demo Flow\nsteps:\n\
         \x20 - {id: plan, mode: headless, model: opus, effort: high, prompt: '-plan the change'}\n\
         \x20 - {id: again, mode: headless, permissions: full, prompt: 'go on'}\n",
    )
    .run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 2, "{argvs:?}");
    let id = argvs[0][5].clone();
    assert!(
        agent_runner::agents::ids::is_uuid(&id),
        "pre-assigned id {id:?} is a UUID"
    );
    let run_dir = run_dir_text(&out);
    let first = strings(&[
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--session-id",
        &id,
        "--model",
        "opus",
        "--effort",
        "high",
        "--permission-mode",
        "acceptEdits",
        "--add-dir",
        &run_dir,
        "--disallowedTools",
        "AskUserQuestion",
        "--append-system-prompt",
        &headless_preamble("plan", "Demo Flow"),
        "--",
        "-plan the change",
    ]);
    assert_eq!(argvs[0], first);
    // The resume keeps the id and passes the session's model and effort again.
    let second = strings(&[
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--resume",
        &id,
        "--model",
        "opus",
        "--effort",
        "high",
        "--permission-mode",
        "bypassPermissions",
        "--add-dir",
        &run_dir,
        "--disallowedTools",
        "AskUserQuestion",
        "--append-system-prompt",
        &headless_preamble("again", "Demo Flow"),
        "--",
        "go on",
    ]);
    assert_eq!(argvs[1], second);
    assert!(out.stderr.contains(&format!(
        "==> 1/2 plan [headless claude/opus, session new]\n  session: {id} (new)\n"
    )));
    assert!(out.stderr.contains(&format!(
        "==> 2/2 again [headless claude/opus, session resume]\n  session: {id} (resumed)\n"
    )));
    // The audit log has the argv with the prompt replaced, and one `session` event per step.
    let starts = out.events("step_start");
    let audit_argv = starts[0]["data"]["argv"].as_array().unwrap();
    assert_eq!(audit_argv.last().unwrap(), "<prompt>");
    assert_eq!(audit_argv[0], "claude");
    let sessions: Vec<Value> = out
        .events("session")
        .into_iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(
        sessions,
        vec![
            json!({"cli": "claude", "session_id": id, "how": "preassigned"}),
            json!({"cli": "claude", "session_id": id, "how": "resumed"}),
        ]
    );
}

#[test]
fn agent_process_gets_devnull_stdin_project_cwd_and_runner_variables() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: only, mode: headless, prompt: hi}\n")
        .env("CLAUDECODE", "1")
        .run();
    let turns = out.turns();
    assert_eq!(turns.len(), 1);
    let turn = &turns[0];
    assert_eq!(turn["stdin_is_devnull"], true);
    assert_eq!(turn["stdin_is_tty"], false);
    assert_eq!(turn["claudecode"], false, "CLAUDECODE is removed");
    assert_eq!(turn["cwd"], out.project_real());
    let env = &turn["env"];
    assert_eq!(env["AGENT_RUNNER_RUN_ID"], out.run_id());
    assert_eq!(env["AGENT_RUNNER_RUN_DIR"], run_dir_text(&out));
    assert_eq!(env["AGENT_RUNNER_STEP"], "only");
}

#[test]
fn agent_environment_drops_nested_agent_and_ar_variables() {
    // `bin/claude` is a wrapper that saves its environment, then runs the fake as `claude`.
    let test = Test::new();
    let fakes = test.path().join("fakes");
    std::fs::create_dir_all(&fakes).unwrap();
    std::os::unix::fs::symlink(crate::helpers::fake_agent(), fakes.join("claude")).unwrap();
    let dump = test.path().join("claude.env");
    let wrapper = format!(
        "#!/bin/sh\nif [ \"$1\" = -p ]; then env > '{}'; fi\nexec '{}' \"$@\"\n",
        dump.display(),
        fakes.join("claude").display()
    );
    let out = test
        .fake_clis(&[])
        .write_bin("claude", &wrapper)
        .workflow(
            "w",
            "name: w\nenv: {FROM_WORKFLOW: wf, SHARED: wf}\nsteps:\n\
             \x20 - {id: only, mode: headless, prompt: hi, env: {SHARED: step}}\n",
        )
        .arg("w")
        .env("CLAUDECODE", "1")
        .env("CLAUDE_CODE_ENTRYPOINT", "cli")
        .env("CLAUDE_CODE_SSE_PORT", "4242")
        .env("CODEX_SANDBOX", "seatbelt")
        .env("AR_SOMETHING", "x")
        .env("KEEP_ME", "yes")
        .run();
    let text = std::fs::read_to_string(&dump).unwrap();
    let names: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
    for gone in [
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_SSE_PORT",
        "CODEX_SANDBOX",
        "AR_SOMETHING",
    ] {
        assert!(!names.contains(&gone), "{gone} reached the agent:\n{text}");
    }
    for kept in [
        "KEEP_ME=yes",
        "FROM_WORKFLOW=wf",
        "SHARED=step",
        "AGENT_RUNNER_STEP=only",
    ] {
        assert!(text.lines().any(|l| l == kept), "{kept} missing:\n{text}");
    }
    assert_eq!(
        out.turns()[0]["argv0"],
        fakes.join("claude").display().to_string()
    );
}

#[test]
fn claude_stream_is_rendered_on_stdout_and_kept_in_output_files() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: work, mode: headless, prompt: hi}\n")
        .fake_script("- [{text: \"All green.\"}]\n")
        .run();
    let id = out.turns()[0]["session_id"].as_str().unwrap().to_owned();
    // Assistant text and tool lines, indented by two spaces; nothing else on stdout.
    assert!(
        out.stdout
            .starts_with("  I'll run the tests first.\n  › Bash: cargo test --quiet\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("  All green.\n"), "{}", out.stdout);
    assert!(out.stdout.lines().all(|l| l.starts_with("  ")));
    // `.txt` is the same rendering, `.stream.jsonl` the raw stream.
    let tmp = out.tempdir.path().display().to_string();
    assert_eq!(out.output_file(".txt").replace(&tmp, "[TMP]"), out.stdout);
    let template = std::fs::read_to_string("tests/fixtures/streams/claude/success.jsonl").unwrap();
    let home = out.tempdir.path().join("home").display().to_string();
    let cwd = out.project_real();
    let fixture = agent_runner::agents::fixture::render_fixture(
        &template,
        &agent_runner::agents::fixture::FixtureVars {
            session_id: &id,
            text: "All green.",
            cwd: &cwd,
            home: &home,
            resets_at: 0,
            json: "",
        },
    );
    let expected: String = fixture.lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(out.output_file(".stream.jsonl"), expected);
    assert_eq!(
        out.output_files(),
        strings(&[
            "0002-work.stderr",
            "0002-work.stream.jsonl",
            "0002-work.txt"
        ])
    );
    // The end line and the run's usage line (fixture: 12 in, 310 out, $0.0421875).
    let ok = line_starting(&out.stderr, "  ok (");
    assert!(ok.ends_with(", 12 in / 310 out tokens, $0.04)"), "{ok}");
    assert!(
        out.stderr
            .ends_with("agent-runner: usage: 12 input / 310 output tokens, $0.04\n"),
        "{}",
        out.stderr
    );
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(end["outcome"], "success");
    assert_eq!(end["session_id"], id);
    assert_eq!(
        end["usage"],
        json!({"input_tokens": 12, "cached_input_tokens": 44000, "cache_creation_tokens": 2100,
               "output_tokens": 310, "reasoning_tokens": 0, "total_tokens": 46422,
               "models": {"claude-sonnet-5": {"input_tokens": 12, "cached_input_tokens": 44000,
                   "cache_creation_tokens": 2100, "output_tokens": 310, "reasoning_tokens": 0,
                   "cost_usd": 0.0421875}}})
    );
    assert_eq!(end["cost_usd"], 0.0421875);
    assert_eq!(end["num_turns"], 4);
    assert_eq!(end["final_text_bytes"], "All green.".len());
    assert_eq!(
        end["outputs"],
        json!([
            "output/0002-work.stream.jsonl",
            "output/0002-work.txt",
            "output/0002-work.stderr"
        ])
    );
}

#[test]
fn codex_flags_come_before_exec_and_resume_uses_the_thread_id() {
    let out = agent_workflow(
        "name: cx\ndefaults: {cli: codex}\nsteps:\n\
         \x20 - {id: a, mode: headless, effort: max, model: gpt-9, prompt: first}\n\
         \x20 - {id: b, mode: headless, permissions: full, prompt: second}\n\
         \x20 - {id: c, mode: headless, permissions: ask, prompt: '-third'}\n",
    )
    .run();
    let turns = out.turns();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 3);
    let thread = turns[0]["session_id"].as_str().unwrap().to_owned();
    let run_dir = run_dir_text(&out);
    let prompt = |step: &str, text: &str| {
        format!(
            "<workflow-context>\n{}\n</workflow-context>\n\n{text}",
            headless_preamble(step, "cx")
        )
    };
    // What every invocation has after `exec` / `exec resume`: the model and effort again.
    let common = "--json --skip-git-repo-check -m gpt-9 -c model_reasoning_effort=\"xhigh\" --";
    let expect = |head: &str, thread: Option<&str>, prompt: String| -> Vec<String> {
        let mut argv: Vec<String> = format!("{head} {common}")
            .split(' ')
            .map(str::to_owned)
            .collect();
        argv.extend(thread.map(str::to_owned));
        argv.push(prompt);
        argv
    };
    let sandbox = format!("-s workspace-write --add-dir {run_dir} -a never exec");
    assert_eq!(argvs[0], expect(&sandbox, None, prompt("a", "first")));
    assert_eq!(
        argvs[1],
        expect(
            "--dangerously-bypass-approvals-and-sandbox exec resume",
            Some(&thread),
            prompt("b", "second")
        )
    );
    assert_eq!(
        argvs[2],
        expect(
            "-s read-only -a never exec resume",
            Some(&thread),
            prompt("c", "-third")
        )
    );
    assert!(out.stderr.contains(&format!("  session: {thread} (new)\n")));
    let sessions: Vec<Value> = out
        .events("session")
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(
        sessions[0],
        json!({"cli": "codex", "session_id": thread, "how": "stream"})
    );
    // Codex reports no cost.
    assert!(
        out.stderr.ends_with(
            "agent-runner: usage: 74.3k input / 1.3k output tokens (cost unknown for 3 steps)\n"
        ),
        "{}",
        out.stderr
    );
    let oks = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("  ok (") && l.ends_with(", 24.8k in / 422 out tokens)"))
        .count();
    assert_eq!(oks, 3, "{}", out.stderr);
}

#[test]
fn mixed_costs_mark_the_run_usage_incomplete() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: a, mode: headless, prompt: one}\n\
         \x20 - {id: b, mode: headless, cli: codex, session: new, prompt: two}\n",
    )
    .run();
    assert!(
        out.stderr.ends_with(
            "agent-runner: usage: 24.8k input / 732 output tokens, $0.04 (cost unknown for 1 steps)\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn copilot_opencode_gemini_and_cursor_run_headless_and_capture() {
    let out = agent_workflow(
        "name: others\nsteps:\n\
         \x20 - {id: cp, mode: headless, cli: copilot, model: gpt-5, effort: high, session: new, prompt: cp-task, capture: cp_out}\n\
         \x20 - {id: oc, mode: headless, cli: opencode, model: prov/m1, effort: low, session: new, prompt: oc-task, capture: oc_out}\n\
         \x20 - {id: ge, mode: headless, cli: gemini, model: gem-3, session: new, permissions: full, prompt: ge-task, capture: ge_out}\n\
         \x20 - {id: cu, mode: headless, cli: cursor-agent, model: cur-1, session: new, permissions: full, prompt: cu-task, capture: cu_out}\n\
         \x20 - {id: sh, command: 'echo {{cp_out}}+{{oc_out}}+{{ge_out}}+{{cu_out}}'}\n",
    )
    .fake_script(
        "- [{text: copilot says}]\n- [{text: opencode says}]\n- [{text: gemini says}]\n- [{text: cursor says}]\n",
    )
    .run();
    assert!(
        out.stdout
            .ends_with("copilot says+opencode says+gemini says+cursor says\n"),
        "{}",
        out.stdout
    );
    let turns = out.turns();
    let argvs = out.turn_argvs();
    let clis: Vec<&str> = turns.iter().map(|t| t["cli"].as_str().unwrap()).collect();
    assert_eq!(clis, ["copilot", "opencode", "gemini", "cursor-agent"]);
    let has = |argv: &[String], pair: &[&str]| argv.windows(pair.len()).any(|w| w == pair);
    let last_is_prompt = |argv: &[String], step: &str, task: &str| {
        let last = argv.last().unwrap();
        let body = format!(
            "<workflow-context>\n{}\n</workflow-context>\n\n{task}",
            headless_preamble(step, "others")
        );
        assert!(last.ends_with(&body), "{step}: last argument {last:?}");
    };
    // copilot: pre-assigned UUID, model, effort, --allow-all-tools.
    let cp_id = turns[0]["session_id"].as_str().unwrap();
    assert!(agent_runner::agents::ids::is_uuid(cp_id));
    assert!(
        argvs[0].contains(&format!("--session-id={cp_id}")),
        "{:?}",
        argvs[0]
    );
    for pair in [
        &["--output-format", "json"][..],
        &["--no-ask-user"],
        &["--model", "gpt-5"],
        &["--reasoning-effort", "high"],
        &["--allow-all-tools"],
    ] {
        assert!(
            has(&argvs[0], pair),
            "copilot lacks {pair:?}: {:?}",
            argvs[0]
        );
    }
    last_is_prompt(&argvs[0], "cp", "cp-task");
    // opencode: run --format json, -m, --variant, the id from the stream.
    assert_eq!(argvs[1][..3], strings(&["run", "--format", "json"]));
    assert!(has(&argvs[1], &["-m", "prov/m1"]) && has(&argvs[1], &["--variant", "low"]));
    last_is_prompt(&argvs[1], "oc", "oc-task");
    // gemini: stream-json, -m, yolo for full.
    for pair in [
        &["--output-format", "stream-json"][..],
        &["-m", "gem-3"],
        &["--approval-mode", "yolo"],
    ] {
        assert!(
            has(&argvs[2], pair),
            "gemini lacks {pair:?}: {:?}",
            argvs[2]
        );
    }
    last_is_prompt(&argvs[2], "ge", "ge-task");
    // cursor-agent: -p stream-json --trust, --model, --force for full.
    assert_eq!(
        argvs[3][..4],
        strings(&["-p", "--output-format", "stream-json", "--trust"])
    );
    assert!(has(&argvs[3], &["--model", "cur-1"]) && has(&argvs[3], &["--force"]));
    last_is_prompt(&argvs[3], "cu", "cu-task");
    // Each step's session is the one the CLI reported, and the final text is captured.
    let ends = out.events("step_end");
    for (i, turn) in turns.iter().enumerate() {
        assert_eq!(
            ends[i]["data"]["session_id"], turn["session_id"],
            "step {i}"
        );
    }
    let captures = &out.state()["scope"]["captures"];
    assert_eq!(
        captures,
        &json!({"cp_out": "copilot says", "oc_out": "opencode says", "ge_out": "gemini says", "cu_out": "cursor says"})
    );
}

#[test]
fn capture_stores_the_final_answer_for_later_steps() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: ask, mode: headless, prompt: question, capture: answer}\n\
         \x20 - {id: use, mode: headless, session: new, prompt: 'Answer was: {{answer}}'}\n",
    )
    .fake_script("- [{text: \"  forty-two\\n\"}]\n")
    .run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs[1].last().unwrap(), "Answer was: forty-two");
    assert_eq!(out.state()["scope"]["captures"]["answer"], "forty-two");
    let end = &out.events("step_end")[0]["data"];
    assert_eq!(end["capture"], json!({"name": "answer", "bytes": 9}));
}

#[test]
fn capture_of_a_failed_step_only_when_it_has_a_final_text() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: partial, mode: headless, prompt: one, capture: c1, continue_on_failure: true}\n\
         \x20 - {id: nothing, mode: headless, cli: codex, session: new, prompt: two, capture: c2, continue_on_failure: true}\n",
    )
    .fake_script("- [{emit: api_error}]\n- [{emit: turn_failed}]\n")
    .status(0)
    .run();
    let captures = &out.state()["scope"]["captures"];
    assert_eq!(captures, &json!({"c1": "Starting on it."}));
    let ends = out.events("step_end");
    assert_eq!(ends[0]["data"]["outcome"], "failed");
    assert_eq!(ends[1]["data"]["outcome"], "failed");
    assert_eq!(ends[1]["data"]["capture"], Value::Null);
    assert!(
        out.stderr
            .contains("(0 ok, 0 skipped, 2 failed but continued)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_prompt_over_100_kib_is_passed_as_a_file() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: big, command: 'head -c 150000 /dev/zero | tr \"\\\\0\" x', capture: text}\n\
         \x20 - {id: a, mode: headless, prompt: 'Do this: {{text}}'}\n",
    )
    .run();
    let argv = &out.turn_argvs()[0];
    let file = out.run_dir().join("output/0004-a.prompt.md");
    assert_eq!(
        argv.last().unwrap(),
        &format!(
            "Your full instructions for this step are in {}. Read the whole file, then follow it.",
            file.display()
        )
    );
    let prompt = std::fs::read_to_string(&file).unwrap();
    assert_eq!(prompt, format!("Do this: {}", "x".repeat(150_000)));
}

#[test]
fn an_agent_runs_in_the_step_workdir() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - {id: a, mode: headless, workdir: sub/dir, prompt: p}\n",
    )
    .write("sub/dir/.keep", "")
    .run();
    assert_eq!(
        out.turns()[0]["cwd"],
        format!("{}/sub/dir", out.project_real())
    );
}
