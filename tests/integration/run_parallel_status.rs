//! The console of parallel branches on a terminal (control.md §8): one status line says how many
//! branches run, are done and wait, and what a branch's shell step prints carries the branch's
//! label; neither when the output is not a terminal.

use std::time::Duration;

use expectrl::{Eof, Session};

use crate::builtin_support::pty_command;
use crate::run_support::wf;
use crate::test::Test;

/// Three branches, two at a time, each long enough for several ticks of the line.
const THREE: &str = r#"name: s
steps:
  - id: group
    parallel: { max: 2 }
    steps:
      - { id: a, command: sleep 1.5 }
      - { id: b, command: sleep 1.5 }
      - { id: c, command: sleep 1.5 }
"#;

#[test]
fn on_a_terminal_one_line_counts_the_running_done_and_waiting_branches() {
    let test = Test::new().write(&wf("s"), THREE);
    let mut session = Session::spawn(pty_command(test.path(), &["s"], &[])).expect("spawn");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
        .expect("2 running, 0 done, 1 waiting")
        .expect("the status line while two branches run and one waits");
    session
        .expect("1 running, 2 done, 0 waiting")
        .expect("the status line once the third branch runs");
    session
        .expect("workflow \"s\" completed")
        .expect("the run's summary");
    session.expect(Eof).expect("the run ends");
}

#[test]
fn without_a_terminal_there_is_no_status_line() {
    let out = Test::new().write(&wf("s"), THREE).arg("s").run();
    assert!(!out.stderr.contains("running,"), "{}", out.stderr);
    assert!(!out.stdout.contains("running,"), "{}", out.stdout);
}

/// Two branches whose shell steps print two lines each.
const PRINTING: &str = r#"name: p
steps:
  - id: group
    parallel: true
    steps:
      - { id: left, command: "printf 'one-l\\ntwo-l\\n'" }
      - { id: right, command: "printf 'one-r\\ntwo-r\\n'" }
"#;

#[test]
fn on_a_terminal_a_branchs_shell_output_carries_its_label() {
    let test = Test::new().write(&wf("p"), PRINTING);
    let mut session = Session::spawn(pty_command(test.path(), &["p"], &[])).expect("spawn");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    for line in ["[left] one-l", "[left] two-l"] {
        session
            .expect(line)
            .expect("a labelled line of the left branch");
    }
    session.expect(Eof).expect("the run ends");
    let test = Test::new().write(&wf("p"), PRINTING);
    let mut session = Session::spawn(pty_command(test.path(), &["p"], &[])).expect("spawn");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
        .expect("[right] two-r")
        .expect("a labelled line of the right branch");
    session.expect(Eof).expect("the run ends");
}

#[test]
fn redirected_shell_output_of_a_branch_keeps_the_steps_own_bytes() {
    let out = Test::new().write(&wf("p"), PRINTING).arg("p").run();
    for line in ["one-l\n", "two-l\n", "one-r\n", "two-r\n"] {
        assert!(out.stdout.contains(line), "{}", out.stdout);
    }
    assert!(!out.stdout.contains("[left]"), "{}", out.stdout);
    assert!(!out.stdout.contains("[right]"), "{}", out.stdout);
}
