//! What an interactive agent step starts and what it leaves for later steps (agents.md §2, §3, §7;
//! interactive.md §7, §9): the exact claude argv with the interactive framing of the root workflow,
//! the session id flowing into the next `resume` step, codex session discovery from the rollout
//! file the agent writes, and the transcript file that `step_end` refers to.

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::interactive_harness::{RUNNER, World, flag_value};

/// The fixed interactive framing (agents.md §7) for a new session.
fn framing(step: &str, workflow: &str, description: &str) -> String {
    format!(
        "You are working with a user on step \"{step}\" of the \"{workflow}\" workflow: {description}. \
         The step's task is in the user's first message. Start by saying in one sentence that you are \
         beginning this step, then work on it together. When the user says the step is done, or you \
         both agree it is complete, end the step by running exactly `{RUNNER} step continue` with no \
         commentary. If you cannot run commands, ask the user to type /continue and press Enter."
    )
}

fn strings(argv: &Value) -> Vec<String> {
    argv.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn claude_gets_the_interactive_argv_and_its_session_flows_to_the_next_resume_step() {
    let world = World::new().workflow(
        "pair",
        r#"name: pair
description: Work on a change together
steps:
  - id: chat
    cli: claude
    prompt: "-start here"
  - id: review
    mode: headless
    session: resume
    prompt: Review what we did
"#,
    );
    let mut term = world.spawn(&["pair"]);
    let ready = term.expect(r"claude \(fake\) ready; session [0-9a-f-]{36}");
    term.send(b"\x1d");
    let finished = term.finish();
    assert_eq!(finished.status, 0, "{ready}{}", finished.screen);

    let turns = world.turns();
    assert_eq!(turns.len(), 2, "{turns:#?}");
    let id = turns[0]["session_id"].as_str().unwrap().to_owned();
    let run_dir = world.run_dir().canonicalize().unwrap();
    let expected = [
        "--session-id",
        &id,
        "--add-dir",
        run_dir.to_str().unwrap(),
        "--append-system-prompt",
        &framing("chat", "pair", "Work on a change together"),
        "--allowedTools",
        &format!("Bash({RUNNER} step continue:*)"),
        "--",
        "-start here",
    ];
    assert_eq!(strings(&turns[0]["argv"]), expected);
    assert_eq!(turns[0]["stdin_is_tty"], true);
    assert_eq!(turns[0]["term"], "xterm-256color");

    let review = strings(&turns[1]["argv"]);
    assert_eq!(turns[1]["mode"], "headless");
    assert_eq!(review[0], "-p");
    assert_eq!(flag_value(&turns[1]["argv"], "--resume"), Some(id.as_str()));
    assert_eq!(
        review.last().map(String::as_str),
        Some("Review what we did")
    );
    assert_eq!(world.step_end("chat")["session_id"], id.as_str());
    assert_eq!(world.step_end("review")["session_id"], id.as_str());
}

#[test]
fn the_framing_names_the_root_workflow_inside_a_sub_workflow() {
    let world = World::new()
        .workflow(
            "outer",
            r#"name: outer
description: The workflow the user started
steps:
  - id: part
    workflow: parts/inner.yaml
"#,
        )
        .workflow("parts/inner", "name: inner\ndescription: A building block\nsteps:\n  - id: talk\n    cli: claude\n    prompt: Talk\n");
    let mut term = world.spawn(&["outer"]);
    term.expect(r"claude \(fake\) ready");
    term.send(b"/continue\r");
    assert_eq!(term.finish().status, 0);
    let turns = world.turns();
    assert_eq!(
        flag_value(&turns[0]["argv"], "--append-system-prompt"),
        Some(framing("talk", "outer", "The workflow the user started").as_str())
    );
}

#[test]
fn a_codex_session_is_discovered_and_the_next_resume_step_continues_it() {
    let world = World::new().workflow(
        "plan",
        r#"name: plan
steps:
  - id: chat
    cli: codex
    prompt: Plan it with me
  - id: review
    mode: headless
    session: resume
    prompt: Review the plan
"#,
    );
    let mut term = world.spawn(&["plan"]);
    term.expect(r"codex \(fake\) ready");
    term.send(b"\x1d");
    let finished = term.finish();
    assert_eq!(finished.status, 0, "{}", finished.screen);

    let turns = world.turns();
    assert_eq!(turns.len(), 2, "{turns:#?}");
    // The fake chose the id and wrote its rollout file, as the real codex does.
    let id = turns[0]["session_id"].as_str().unwrap();
    let interactive = strings(&turns[0]["argv"]);
    assert_eq!(
        interactive[..2],
        ["--no-alt-screen".to_owned(), "--no-daemon".to_owned()]
    );
    let discovered: Vec<Value> = world
        .events("session")
        .into_iter()
        .filter(|e| e["path"] == "chat")
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(discovered.len(), 1, "{discovered:#?}");
    assert_eq!(discovered[0]["how"], "discovered");
    assert_eq!(discovered[0]["session_id"], id);
    assert_eq!(world.step_end("chat")["session_id"], id);

    let review = strings(&turns[1]["argv"]);
    assert_eq!(turns[1]["mode"], "headless");
    let exec = review.iter().position(|a| a == "exec").unwrap();
    assert_eq!(review[exec + 1], "resume");
    let dash = review.iter().position(|a| a == "--").unwrap();
    assert_eq!(review[dash + 1], id, "{review:?}");
}

#[test]
fn the_transcript_is_written_and_referenced_by_step_end() {
    let world = World::new()
        .workflow(
            "pair",
            "name: pair\nsteps:\n  - id: chat\n    cli: claude\n    prompt: Talk\n",
        )
        .script("- [{print: \"\\e[1;32mgreen\\e[0m text\"}, {print: \"progress 10%\\rprogress 100%\"}]\n");
    let mut term = world.spawn(&["pair"]);
    term.expect("progress 100%");
    term.send(b"secret keystrokes\x1d");
    assert_eq!(term.finish().status, 0);
    let end = world.step_end("chat");
    let (path, transcript) = world.transcript("chat");
    assert_eq!(end["transcript"], path.as_str());
    assert!(
        end["outputs"]
            .as_array()
            .unwrap()
            .contains(&Value::from(path.as_str())),
        "{end:#}"
    );
    let id = world.turns()[0]["session_id"].as_str().unwrap().to_owned();
    assert_eq!(
        transcript,
        format!("claude (fake) ready; session {id}\ngreen text\nprogress 100%\n")
    );
}
