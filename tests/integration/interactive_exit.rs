//! When the child of an interactive step ends by itself, and when there is no terminal at all
//! (interactive.md §7, §10 and §11 scenarios 5 and 9): the exit status decides the step, a failed
//! interactive claude step resumes its session, interactive shell steps have no triggers, and a
//! run without a terminal fails the step with `no_terminal` and exits 4.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::interactive_harness::{NEXT_STEP, PAIR, World, flag_value};

#[test]
fn the_agent_exiting_with_status_0_completes_the_step() {
    let world = World::pair("- [{print: bye}, {exit: 0}]\n");
    let mut term = world.spawn(&["pair"]);
    term.expect("bye");
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
    assert_eq!(world.step_end("chat")["outcome"], "success");
    assert_eq!(
        world.events("control")[0]["data"],
        json!({"action": "continue", "source": "agent_exit", "note": null})
    );
}

#[test]
fn the_agent_exiting_with_status_3_fails_the_run_and_resume_continues_its_session() {
    let world = World::pair("- [{exit: 3}]\n- [{print: resumed}, {exit: 0}]\n");
    let mut term = world.spawn(&["pair"]);
    let finished = term.finish();
    assert_eq!(finished.status, 1, "{}", finished.screen);
    finished.shows("failed: exit status 3");
    finished.shows("to resume: agent-runner --resume ");
    assert!(!finished.screen.contains(NEXT_STEP));
    let end = world.step_end("chat");
    assert_eq!(end["outcome"], "failed");
    assert_eq!(end["error"]["class"], "exit_status");
    assert_eq!(world.state()["status"], "failed");

    let mut term = world.spawn(&["--resume"]);
    term.expect("resumed");
    term.expect(NEXT_STEP);
    let finished = term.finish();
    assert_eq!(finished.status, 0, "{}", finished.screen);
    let turns = world.turns();
    assert_eq!(turns.len(), 2, "{turns:#?}");
    let id = turns[0]["session_id"].as_str().unwrap();
    assert_eq!(flag_value(&turns[0]["argv"], "--session-id"), Some(id));
    assert_eq!(flag_value(&turns[1]["argv"], "--resume"), Some(id));
    assert_eq!(flag_value(&turns[1]["argv"], "--session-id"), None);
    assert_eq!(turns[1]["mode"], "interactive");
    assert_eq!(world.state()["status"], "completed");
}

#[test]
fn without_a_terminal_the_step_fails_with_no_terminal_and_the_run_exits_4() {
    let world = World::new().workflow("pair", PAIR);
    let ran = world.run_without_terminal(&["pair"]);
    assert_eq!(ran.status, 4, "{}", ran.stderr);
    let warning = "agent-runner: warning: this workflow has interactive steps but there is no terminal; they will fail when reached";
    let first_lines: Vec<&str> = ran.stderr.lines().take(2).collect();
    assert!(first_lines.contains(&warning), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            r#"interactive step "chat" needs a terminal (stdin is not a terminal); run agent-runner from a terminal or make the step headless"#
        ),
        "{}",
        ran.stderr
    );
    let end = world.step_end("chat");
    assert_eq!(end["outcome"], "failed");
    assert_eq!(end["error"]["class"], "no_terminal");
    assert!(world.turns().is_empty(), "the agent must not start");
    assert!(!ran.stdout.contains(NEXT_STEP));
}

const SHELLS: &str = r#"name: shells
steps:
  - id: greet
    mode: interactive
    command: |
      test -t 0 && test -t 1 && printf '\033[1mhello\033[0m from a terminal\n'
  - id: fail
    mode: interactive
    command: printf 'failing now\n'; exit 5
  - id: never
    command: printf 'next step %s\n' ran
"#;

#[test]
fn interactive_shell_steps_succeed_and_fail_by_their_exit_status() {
    let world = World::new().workflow("shells", SHELLS);
    let mut term = world.spawn(&["shells"]);
    term.expect("hello");
    let finished = term.finish();
    assert_eq!(finished.status, 1, "{}", finished.screen);
    finished.shows("failed: exit status 5");
    assert!(!finished.screen.contains(NEXT_STEP));
    assert!(
        !finished.screen.contains("/continue"),
        "shell steps have no hint"
    );

    let greet = world.step_end("greet");
    assert_eq!(greet["outcome"], "success");
    let (name, transcript) = world.transcript("greet");
    assert_eq!(greet["transcript"], name);
    assert_eq!(transcript, "hello from a terminal\n");
    let fail = world.step_end("fail");
    assert_eq!(fail["outcome"], "failed");
    assert_eq!(fail["error"]["class"], "exit_status");
    assert_eq!(fail["error"]["message"], "exit status 5");
    assert!(world.events("control").is_empty());
}
