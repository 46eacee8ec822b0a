//! The user's terminal around an interactive step (interactive.md §2, §9 and §11 scenarios 7–8):
//! a window resize reaches the agent, and after the agent turned on the alternate screen,
//! bracketed paste and a hidden cursor, the reset sequence undoes them and `stty -g` is what it was
//! before the run, whether the step was ended by the user or the agent was killed. Every run here
//! goes through [`Term::finish`](super::interactive_harness::Term::finish), which compares
//! `stty -g` before and after.

use pretty_assertions::assert_eq;

use super::interactive_harness::{NEXT_STEP, World};

/// What must follow a child that left these modes on.
const RESET: [(&str, &str); 4] = [
    ("leave the alternate screen", "\x1b[?1049l"),
    ("show the cursor", "\x1b[?25h"),
    ("turn off bracketed paste", "\x1b[?2004l"),
    ("reset attributes", "\x1b[0m"),
];

fn assert_reset(screen: &str) {
    for (what, sequence) in RESET {
        assert!(
            screen.contains(sequence),
            "{what}: {sequence:?} missing from {screen:?}"
        );
    }
}

#[test]
fn a_window_resize_reaches_the_agent() {
    let world = World::pair("- [print_size]\n");
    let mut term = world.spawn(&["pair"]);
    term.expect("size: 40x120");
    term.resize(30, 100);
    term.expect("size: 30x100");
    term.send(b"\x1d");
    term.expect(NEXT_STEP);
    assert_eq!(term.finish().status, 0);
}

#[test]
fn terminal_modes_are_restored_after_the_user_ends_a_full_screen_agent() {
    let world = World::pair("- [use_alt_screen, {print: FULL-SCREEN}]\n");
    let mut term = world.spawn(&["pair"]);
    term.expect("FULL-SCREEN");
    // Ctrl-] in the kitty keyboard encoding.
    term.send(b"\x1b[93;5u");
    let finished = term.finish();
    assert_eq!(finished.status, 0, "{}", finished.screen);
    assert_reset(&finished.screen);
    let reset_at = finished.screen.find("\x1b[?1049l").unwrap();
    let end_line_at = finished.screen.find("  ok (").unwrap();
    assert!(
        reset_at < end_line_at,
        "the reset must come before the step's end line"
    );
    assert_eq!(world.stdin_of(1), b"", "the trigger was forwarded");
    assert_eq!(world.events("control")[0]["data"]["source"], "ctrl_bracket");
}

#[test]
fn terminal_modes_are_restored_after_a_full_screen_agent_is_killed() {
    let world = World::pair("- [use_alt_screen, {print: FULL-SCREEN}, {kill_self: SIGKILL}]\n");
    let mut term = world.spawn(&["pair"]);
    term.expect("FULL-SCREEN");
    let finished = term.finish();
    assert_eq!(finished.status, 1, "{}", finished.screen);
    assert_reset(&finished.screen);
    finished.shows("failed: killed by signal SIGKILL");
    assert_eq!(world.step_end("chat")["error"]["class"], "signal");
}
