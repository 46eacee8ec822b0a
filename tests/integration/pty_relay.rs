//! The terminal relay inside a real pseudo-terminal (interactive.md §11).
//!
//! Each test starts `relay-host` (a hidden test binary that runs one relay) under expectrl in a
//! 40×120 PTY, wrapped in a shell that prints `stty -g` before and after, so every test also checks
//! that the user's terminal modes come back. The relayed child is a small shell script; scripts
//! that log their input put the PTY in raw mode and `cat` into a file, and ignore SIGTERM so that
//! every byte sent before the trigger is logged before the grace period ends.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use expectrl::{Regex, Session};
use serde_json::Value;

use crate::helpers::relay_host;

const TIMEOUT: Duration = Duration::from_secs(10);
const DEL: u8 = 0x7f;

/// One `relay-host` run in its own PTY.
struct Host {
    session: Session,
    stty_before: String,
    dir: tempfile::TempDir,
}

/// What a finished run showed.
struct Finished {
    outcome: Value,
    /// The terminal output from the start of the relay to the outcome line.
    screen: Vec<u8>,
}

impl Host {
    /// Starts `relay-host <options> -- /bin/sh -c <script>`. `$DIR` in an option is the test's
    /// temporary directory; `$LOG` in the script is a file there, and `$RELAY_HOST` the helper.
    fn start(options: &[&str], script: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let dir_str = dir.path().to_str().unwrap();
        let options: Vec<String> = options.iter().map(|o| o.replace("$DIR", dir_str)).collect();
        // The wrapper waits for a line: ptyprocess sets its default size from the parent after
        // the exec, so the 40×120 size is set by the test once spawn has returned.
        let wrapper = r#"read go; printf 'stty-before:%s\n' "$(stty -g)"; "$@"; printf 'stty-after:%s\n' "$(stty -g)""#;
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", wrapper, "wrapper"])
            .arg(relay_host())
            .args(&options)
            .args(["--", "/bin/sh", "-c", script])
            .env("LOG", &log)
            .env("RELAY_HOST", relay_host())
            .env_remove("TERM");
        let mut session = Session::spawn(command).unwrap();
        session.set_expect_timeout(Some(TIMEOUT));
        session.get_process_mut().set_window_size(120, 40).unwrap();
        session.send(b"go\n").unwrap();
        let captures = session
            .expect(Regex("stty-before:([^\r\n]*)\r?\n"))
            .unwrap();
        let stty_before = String::from_utf8(captures.get(1).unwrap().to_vec()).unwrap();
        Self {
            session,
            stty_before,
            dir,
        }
    }

    fn expect(&mut self, pattern: &str) -> Vec<u8> {
        let captures = self.session.expect(Regex(pattern)).unwrap();
        captures.before().to_vec()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.session.send(bytes).unwrap();
    }

    /// Waits for `ready`, types `keys`, and waits for the end.
    fn type_after(&mut self, ready: &str, keys: &[u8]) -> Finished {
        self.expect(ready);
        self.send(keys);
        self.finish()
    }

    fn log(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("log")).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for the outcome and checks the terminal modes were restored.
    fn finish(&mut self) -> Finished {
        let captures = self
            .session
            .expect(Regex("relay-outcome: ([^\r\n]*)\r?\n"))
            .unwrap();
        let screen = captures.before().to_vec();
        let outcome = serde_json::from_slice(captures.get(1).unwrap()).unwrap();
        let captures = self
            .session
            .expect(Regex("stty-after:([^\r\n]*)\r?\n"))
            .unwrap();
        let stty_after = String::from_utf8(captures.get(1).unwrap().to_vec()).unwrap();
        assert_eq!(
            stty_after, self.stty_before,
            "terminal modes were not restored"
        );
        Finished { outcome, screen }
    }
}

/// A child that logs its raw input and survives SIGTERM (it is SIGKILLed after the grace).
const LOGGING_CHILD: &str = r#"trap '' TERM; stty raw -echo; echo READY; exec cat > "$LOG""#;

fn completed_by(outcome: &Value) -> (&str, &str) {
    (
        outcome["end"]["kind"].as_str().unwrap_or_default(),
        outcome["end"]["source"].as_str().unwrap_or_default(),
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn continue_and_enter_ends_the_step_and_erases_the_typed_command() {
    let mut host = Host::start(&["--grace", "700"], LOGGING_CHILD);
    host.expect("READY");
    host.send(b"/continue");
    std::thread::sleep(Duration::from_millis(200));
    host.send(b"\r");
    let finished = host.finish();
    assert_eq!(
        completed_by(&finished.outcome),
        ("completed", "user_command")
    );
    let mut expected = b"/continue".to_vec();
    expected.extend([DEL; 9]);
    assert_eq!(host.log(), expected);
}

#[test]
fn abort_and_enter_aborts() {
    let mut host = Host::start(&["--grace", "300"], LOGGING_CHILD);
    let finished = host.type_after("READY", b"/abort\r");
    assert_eq!(finished.outcome["end"]["kind"], "aborted");
    assert!(!host.log().contains(&b'\r'));
}

#[test]
fn ctrl_bracket_ends_the_step_and_is_never_forwarded() {
    let mut host = Host::start(&["--grace", "700"], LOGGING_CHILD);
    let finished = host.type_after("READY", b"ab\x1dcd");
    assert_eq!(
        completed_by(&finished.outcome),
        ("completed", "ctrl_bracket")
    );
    assert_eq!(host.log(), b"ab");
}

#[test]
fn the_sentinel_with_the_right_token_ends_the_step_after_the_settle() {
    let script = r#"printf '\033[31mbefore\033[0m\n'; printf '\033]9999;agent-runner;continue;%s\007' "$AGENT_RUNNER_CONTROL_TOKEN"; printf 'after\n'; sleep 30"#;
    let mut host = Host::start(&["--grace", "300", "--transcript", "$DIR/t.txt"], script);
    let finished = host.finish();
    let transcript = host.path("t.txt");
    assert_eq!(completed_by(&finished.outcome), ("completed", "sentinel"));
    assert!(contains(&finished.screen, b"after"));
    assert!(!contains(&finished.screen, b"9999;agent-runner"));
    let text = std::fs::read_to_string(&transcript).unwrap();
    assert_eq!(text, "before\nafter\n");
}

#[test]
fn a_sentinel_with_a_wrong_token_is_ignored_and_warned_about() {
    let script =
        r#"printf '\033]9999;agent-runner;continue;stale\007'; echo SENT; sleep 2; exit 0"#;
    let mut host = Host::start(&[], script);
    let finished = host.finish();
    assert_eq!(completed_by(&finished.outcome), ("completed", "agent_exit"));
    assert!(contains(&finished.screen, b"SENT"));
    let warnings = finished.outcome["warnings"].to_string();
    assert!(warnings.contains("wrong or stale token"), "{warnings}");
}

#[test]
fn step_continue_reaches_the_relay_through_the_control_socket() {
    let script = r#""$RELAY_HOST" continue --note done; sleep 30"#;
    let mut host = Host::start(&["--grace", "300"], script);
    let finished = host.finish();
    assert_eq!(
        completed_by(&finished.outcome),
        ("completed", "agent_command")
    );
    assert_eq!(finished.outcome["end"]["note"], "done");
    assert!(contains(&finished.screen, b"will end now"));
}

#[test]
fn child_exit_status_decides_the_outcome() {
    let mut host = Host::start(&[], "exit 0");
    let finished = host.finish();
    assert_eq!(completed_by(&finished.outcome), ("completed", "agent_exit"));
    let mut host = Host::start(&[], "exit 3");
    let finished = host.finish();
    assert_eq!(finished.outcome["end"]["kind"], "exited");
    assert_eq!(finished.outcome["end"]["code"], 3);
    let mut host = Host::start(&["--no-triggers"], "kill -KILL $$");
    let finished = host.finish();
    assert_eq!(finished.outcome["end"]["kind"], "signaled");
    assert_eq!(finished.outcome["end"]["name"], "SIGKILL");
}

#[test]
fn a_resize_reaches_the_child() {
    let script = r#"trap 'echo "size $(stty size)"' WINCH; echo "size $(stty size)"; while :; do sleep 0.1; done"#;
    let mut host = Host::start(&["--grace", "300"], script);
    host.expect("size 40 120");
    host.session
        .get_process_mut()
        .set_window_size(100, 30)
        .unwrap();
    let finished = host.type_after("size 30 100", b"\x1d");
    assert_eq!(
        completed_by(&finished.outcome),
        ("completed", "ctrl_bracket")
    );
}

#[test]
fn terminal_modes_are_reset_after_the_child_is_killed() {
    let script = r#"trap '' TERM; printf '\033[?1049h\033[?2004h\033[?25lFULL'; sleep 30"#;
    let mut host = Host::start(&["--grace", "300"], script);
    let finished = host.type_after("FULL", b"\x1b[93;5u");
    assert_eq!(
        completed_by(&finished.outcome),
        ("completed", "ctrl_bracket")
    );
    for mode in [
        b"\x1b[?1049l".as_slice(),
        b"\x1b[?25h",
        b"\x1b[?2004l",
        b"\x1b[0m",
    ] {
        assert!(contains(&finished.screen, mode), "{mode:?} missing");
    }
}

#[test]
fn the_idle_hint_is_drawn_and_removed() {
    let mut host = Host::start(
        &["--hint-after", "300", "--grace", "300"],
        "echo READY; sleep 30",
    );
    host.expect("READY");
    let finished = host.type_after("/continue \\+ Enter or Ctrl-\\] ends this step", b"\x1d");
    // The covered row is repainted (save cursor, go to row 40, clear it) before anything else.
    assert!(
        contains(&finished.screen, b"\x1b7\x1b[40;1H\x1b[0m\x1b[2K"),
        "{:?}",
        String::from_utf8_lossy(&finished.screen)
    );
}

#[test]
fn interactive_shell_steps_have_no_triggers() {
    let script = r#"stty raw -echo; echo READY; head -c 13 > "$LOG"; exit 0"#;
    let mut host = Host::start(&["--no-triggers"], script);
    host.expect("READY");
    host.send(b"/continue\r\x1d");
    std::thread::sleep(Duration::from_millis(100));
    host.send(b"12");
    let finished = host.finish();
    assert_eq!(completed_by(&finished.outcome), ("completed", "agent_exit"));
    assert_eq!(host.log(), b"/continue\r\x1d12");
}

#[test]
fn an_interrupt_stops_the_child_with_sigterm() {
    let script =
        r#"trap 'echo got-term > "$LOG"; exit 0' TERM; echo READY; while :; do sleep 0.1; done"#;
    // Late enough that even a loaded machine has started the shell and set its trap.
    let mut host = Host::start(&["--interrupt-after", "2000"], script);
    host.expect("READY");
    let finished = host.finish();
    assert_eq!(finished.outcome["end"]["kind"], "interrupted");
    assert_eq!(host.log(), b"got-term\n");
}

#[test]
fn a_second_interrupt_kills_without_waiting_for_the_grace() {
    let script = r#"trap '' TERM; echo READY; while :; do sleep 0.1; done"#;
    let options = [
        "--grace",
        "30000",
        "--interrupt-after",
        "300",
        "--interrupt-after",
        "600",
    ];
    let started = std::time::Instant::now();
    let mut host = Host::start(&options, script);
    let finished = host.finish();
    assert_eq!(finished.outcome["end"]["kind"], "interrupted");
    assert!(started.elapsed() < TIMEOUT);
}

#[test]
fn sigtstp_to_the_runner_is_ignored_during_the_relay() {
    let mut host = Host::start(&[], r#"kill -TSTP $PPID; sleep 0.3; echo SURVIVED; exit 0"#);
    let finished = host.finish();
    assert!(contains(&finished.screen, b"SURVIVED"));
    assert_eq!(completed_by(&finished.outcome), ("completed", "agent_exit"));
}

#[test]
fn without_a_terminal_the_step_fails_with_no_terminal() {
    let output = Command::new(relay_host())
        .args(["--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no_terminal: interactive step \"relay-host\" needs a terminal (stdin is not a terminal); run agent-runner from a terminal or make the step headless"),
        "{stderr}"
    );
    assert!(relay_host().exists());
}
