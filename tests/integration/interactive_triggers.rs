//! The ways an interactive agent step ends early, end to end through `agent-runner` in a real
//! terminal (interactive.md §11 scenarios 1–4 and 6): `/continue` + Enter, Ctrl-], the agent's
//! `step continue`, the sentinel with the right and a wrong token, and `/abort`.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::interactive_harness::{DEL, NEXT_STEP, READY, World, contains};

/// The `data` of every `control` event of the run.
fn controls(world: &World) -> Vec<serde_json::Value> {
    world
        .events("control")
        .into_iter()
        .map(|e| e["data"].clone())
        .collect()
}

#[test]
fn continue_and_enter_ends_the_step_and_the_next_step_starts() {
    let world = World::pair("- ~\n");
    world.continue_through("pair");
    let mut expected = b"/continue".to_vec();
    expected.extend([DEL; 9]);
    assert_eq!(world.stdin_of(1), expected, "no CR may follow the DELs");
    assert_eq!(
        controls(&world),
        [json!({"action": "continue", "source": "user_command", "note": null})]
    );
    assert_eq!(world.step_end("chat")["outcome"], "success");
}

#[test]
fn continue_typed_key_by_key_with_trailing_spaces_still_ends_the_step() {
    let world = World::pair("- ~\n");
    let mut term = world.spawn(&["pair"]);
    term.expect(READY);
    for key in b"/continue  \r" {
        term.send(&[*key]);
    }
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
    // One DEL per character of the tracked line, the spaces included; no CR.
    let mut expected = b"/continue  ".to_vec();
    expected.extend([DEL; 11]);
    assert_eq!(world.stdin_of(1), expected);
    assert_eq!(controls(&world)[0]["source"], "user_command");
}

#[test]
fn ctrl_bracket_ends_the_step_and_the_agent_never_receives_it() {
    let world = World::pair("- ~\n");
    let mut term = world.spawn(&["pair"]);
    term.expect(READY);
    term.send(b"ab\x1d");
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
    assert_eq!(world.stdin_of(1), b"ab");
    assert_eq!(
        controls(&world),
        [json!({"action": "continue", "source": "ctrl_bracket", "note": null})]
    );
}

#[test]
fn step_continue_from_the_agent_ends_the_step_after_the_settle() {
    // The agent keeps talking after the command; the settle waits until it falls quiet, so that
    // reply is still relayed and lands in the transcript.
    let world = World::pair(
        "- [{continue_via_command: {note: done}}, {sleep_ms: 300}, {print: 'reply after the command'}]\n",
    );
    let mut term = world.spawn(&["pair"]);
    term.expect(READY);
    term.expect(r#"step "chat" will end now; the workflow continues with the next step"#);
    term.expect("reply after the command");
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
    assert_eq!(
        controls(&world),
        [json!({"action": "continue", "source": "agent_command", "note": "done"})]
    );
    let end = world.step_end("chat");
    assert_eq!(end["outcome"], "success");
    let transcript =
        std::fs::read_to_string(world.run_dir().join(end["transcript"].as_str().unwrap())).unwrap();
    assert!(
        transcript.contains("reply after the command\n"),
        "{transcript}"
    );
}

#[test]
fn the_sentinel_with_the_step_token_ends_the_step() {
    let world = World::pair("- [{print: 'working on it'}, continue_via_sentinel]\n");
    let mut term = world.spawn(&["pair"]);
    term.expect("working on it");
    let shown = term.expect(NEXT_STEP);
    assert!(!shown.contains("9999;agent-runner"), "{shown}");
    assert_eq!(term.finish().status, 0);
    assert_eq!(
        controls(&world),
        [json!({"action": "continue", "source": "sentinel", "note": null})]
    );
}

#[test]
fn a_sentinel_with_a_wrong_token_only_warns() {
    // Had the wrong sentinel been accepted, the step would end as `sentinel` however the child
    // exits later; it must end by the child's own exit instead.
    let world = World::pair(
        "- [{continue_via_sentinel: {token: 0123456789abcdef0123456789abcdef}}, {print: WRONG-SENT}, {exit_after_input: {contains: q}}]\n",
    );
    let mut term = world.spawn(&["pair"]);
    term.expect("WRONG-SENT");
    term.send(b"q");
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
    assert_eq!(
        controls(&world),
        [json!({"action": "continue", "source": "agent_exit", "note": null})]
    );
    let warnings = world.events("warning");
    assert!(
        warnings
            .iter()
            .any(|w| w["path"] == "chat" && w["data"].to_string().contains("wrong or stale token")),
        "{warnings:#?}"
    );
}

#[test]
fn abort_stops_the_run_with_130_and_saves_it_as_interrupted() {
    let world = World::pair("- ~\n");
    let mut term = world.spawn(&["pair"]);
    term.expect(READY);
    term.send(b"/abort\r");
    let finished = term.finish();
    assert_eq!(finished.status, 130, "{}", finished.screen);
    finished.shows("agent-runner: interrupted; state saved");
    assert!(!finished.screen.contains(NEXT_STEP));
    let stdin = world.stdin_of(1);
    assert!(
        !contains(&stdin, b"\r"),
        "the Enter was forwarded: {stdin:?}"
    );
    assert_eq!(world.state()["status"], "interrupted");
    assert_eq!(
        controls(&world),
        [json!({"action": "abort", "source": "user_command", "note": null})]
    );
    assert_eq!(world.step_end("chat")["outcome"], "interrupted");
}
