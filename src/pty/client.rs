//! The client side of `agent-runner step continue [--note <text>]` (interactive.md §5).
//!
//! The agent runs it inside an interactive step. It asks the relay, over the control socket named
//! in `AGENT_RUNNER_CONTROL`, to end the step; if the socket cannot be reached (an agent sandbox may
//! block it), it writes the sentinel to the step's terminal, `AGENT_RUNNER_TTY`, instead. The CLI
//! prints the returned message — on stdout when the exit code is 0, on stderr otherwise — and exits
//! with the returned code.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::control_socket::{CONNECTION_DEADLINE, read_line, request_line};
use super::output_filter::sentinel;
use crate::exit;

/// What `step continue` prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinueReport {
    /// 0 (accepted), 2 (not inside an interactive step) or 4 (rejected or unreachable).
    pub exit_code: i32,
    /// The whole line to print, `agent-runner: ` prefix included.
    pub message: String,
}

impl ContinueReport {
    fn new(exit_code: i32, message: String) -> Self {
        Self { exit_code, message }
    }
}

/// Runs `step continue` with the process environment.
pub fn step_continue(note: Option<&str>) -> ContinueReport {
    step_continue_with(|name| std::env::var_os(name), note)
}

/// Runs `step continue`, reading the control variables through `env`.
pub fn step_continue_with(
    env: impl Fn(&str) -> Option<OsString>,
    note: Option<&str>,
) -> ContinueReport {
    let var = |name: &str| env(name).filter(|value| !value.is_empty());
    let (Some(control), Some(token)) = (
        var("AGENT_RUNNER_CONTROL"),
        var("AGENT_RUNNER_CONTROL_TOKEN"),
    ) else {
        return ContinueReport::new(
            exit::USAGE,
            "agent-runner: error: \"step continue\" only works inside an interactive agent-runner step (AGENT_RUNNER_CONTROL is not set)".into(),
        );
    };
    let token = token.to_string_lossy();
    let step = step_id(var("AGENT_RUNNER_STEP"));
    let accepted = ContinueReport::new(
        exit::SUCCESS,
        format!(
            "agent-runner: step \"{step}\" will end now; the workflow continues with the next step"
        ),
    );
    match ask(Path::new(&control), &token, note) {
        Some(Ok(())) => accepted,
        Some(Err(message)) => {
            ContinueReport::new(exit::RUNTIME, format!("agent-runner: error: {message}"))
        }
        None => match var("AGENT_RUNNER_TTY") {
            Some(tty) if write_sentinel(Path::new(&tty), &token) => accepted,
            _ => ContinueReport::new(
                exit::RUNTIME,
                "agent-runner: error: cannot reach agent-runner; ask the user to type /continue"
                    .into(),
            ),
        },
    }
}

/// The step's id: the last segment of its path (`implement[1]/run-tests` → `run-tests`).
fn step_id(path: Option<OsString>) -> String {
    let Some(path) = path else {
        return "current".into();
    };
    let path = path.to_string_lossy();
    let last = path.rsplit('/').next().unwrap_or(&path);
    let id = match last.find('[') {
        Some(bracket) if last.ends_with(']') => &last[..bracket],
        _ => last,
    };
    id.to_owned()
}

/// Sends the request. `None` when the relay could not be reached or did not answer sensibly;
/// `Some(Err(message))` when it refused.
fn ask(socket: &Path, token: &str, note: Option<&str>) -> Option<Result<(), String>> {
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_write_timeout(Some(CONNECTION_DEADLINE)).ok()?;
    stream
        .write_all(request_line(token, note).as_bytes())
        .ok()?;
    let line = read_line(&mut stream, deadline).ok()?;
    let reply: Value = serde_json::from_slice(&line).ok()?;
    match reply.get("ok")?.as_bool()? {
        true => Some(Ok(())),
        false => Some(Err(reply
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the request was refused")
            .to_owned())),
    }
}

/// Writes the sentinel to the step's terminal. O_NOCTTY: the agent's process must not adopt it
/// as its controlling terminal.
fn write_sentinel(tty: &Path, token: &str) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NOCTTY.bits())
        .open(tty)
        .and_then(|mut file| file.write_all(&sentinel(token)))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::control_socket::ControlServer;
    use std::collections::HashMap;
    use std::io::Read;
    use std::sync::mpsc;

    fn run(vars: &[(&str, &str)], note: Option<&str>) -> ContinueReport {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        step_continue_with(|name| vars.get(name).cloned(), note)
    }

    #[test]
    fn outside_a_step_is_a_usage_error() {
        let report = run(&[("AGENT_RUNNER_CONTROL", "/x.sock")], None);
        assert_eq!(report.exit_code, 2);
        assert_eq!(
            report.message,
            "agent-runner: error: \"step continue\" only works inside an interactive agent-runner step (AGENT_RUNNER_CONTROL is not set)"
        );
    }

    #[test]
    fn accepted_and_rejected_requests() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("c.sock");
        let (tx, rx) = mpsc::channel();
        let _server = ControlServer::start(&socket, "tok", tx).unwrap();
        let socket = socket.to_str().unwrap();
        let report = run(
            &[
                ("AGENT_RUNNER_CONTROL", socket),
                ("AGENT_RUNNER_CONTROL_TOKEN", "tok"),
                ("AGENT_RUNNER_STEP", "implement[1]/run-tests"),
            ],
            Some("done"),
        );
        assert_eq!(
            report,
            ContinueReport::new(
                0,
                "agent-runner: step \"run-tests\" will end now; the workflow continues with the next step".into()
            )
        );
        assert_eq!(rx.recv().unwrap().note.as_deref(), Some("done"));
        let report = run(
            &[
                ("AGENT_RUNNER_CONTROL", socket),
                ("AGENT_RUNNER_CONTROL_TOKEN", "old"),
            ],
            None,
        );
        assert_eq!(report.exit_code, 4);
        assert_eq!(
            report.message,
            "agent-runner: error: this step has already ended"
        );
    }

    #[test]
    fn unreachable_socket_falls_back_to_the_sentinel() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let tty = nix::unistd::ttyname(&pty.slave).unwrap();
        let report = run(
            &[
                ("AGENT_RUNNER_CONTROL", "/nonexistent/agent-runner.sock"),
                ("AGENT_RUNNER_CONTROL_TOKEN", "tok"),
                ("AGENT_RUNNER_TTY", tty.to_str().unwrap()),
                ("AGENT_RUNNER_STEP", "plan"),
            ],
            None,
        );
        assert_eq!(report.exit_code, 0);
        assert!(report.message.contains("step \"plan\" will end now"));
        let mut master = std::fs::File::from(pty.master);
        let mut seen = vec![0u8; 128];
        let n = master.read(&mut seen).unwrap();
        let expected = sentinel("tok");
        // The slave's ONLCR leaves the bytes of the sentinel alone.
        assert_eq!(&seen[..n], expected.as_slice());

        let report = run(
            &[
                ("AGENT_RUNNER_CONTROL", "/nonexistent/agent-runner.sock"),
                ("AGENT_RUNNER_CONTROL_TOKEN", "tok"),
            ],
            None,
        );
        assert_eq!(report.exit_code, 4);
        assert_eq!(
            report.message,
            "agent-runner: error: cannot reach agent-runner; ask the user to type /continue"
        );
    }

    #[test]
    fn step_id_is_the_last_path_segment() {
        assert_eq!(step_id(Some("a[0]/b".into())), "b");
        assert_eq!(step_id(Some("loop[2]".into())), "loop");
        assert_eq!(step_id(None), "current");
    }
}
