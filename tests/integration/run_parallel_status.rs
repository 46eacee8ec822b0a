//! The status line of parallel branches (control.md §8): on a terminal, one line says how many
//! branches run, are done and wait; never when the output is not a terminal.

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
