//! The runner's own console lines (cli.md §6): `agent-runner: error: …` and friends on stderr,
//! command output on stdout. Everything printed here is redacted first ([`crate::state::secrets`]). A closed
//! pipe (`agent-runner list | head`) ends output quietly.

pub mod echo;
pub mod format;
mod run_lines;
pub mod spinner;

pub use run_lines::{Console, colour_enabled};

use std::io::{self, Write};

/// Writes command output to stdout, redacted. A broken pipe is ignored: the reader has gone away.
pub fn print_stdout(text: &str) {
    let text = crate::state::secrets::redact(text);
    spinner::clear();
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes one line to stderr, redacted, ignoring failures (there is nowhere else to report them).
pub fn eprint_line(line: &str) {
    let mut text = crate::state::secrets::redact(line).into_owned();
    // One write for the line and its end (stderr is unbuffered: `writeln!` makes two).
    text.push('\n');
    spinner::clear();
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Stderr for the debug log (`AGENT_RUNNER_LOG`): each write is redacted like every other line,
/// since debug events carry rendered commands and argv.
pub struct RedactedStderr;

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = crate::state::secrets::redact(&text);
        io::stderr().lock().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().lock().flush()
    }
}

/// `agent-runner: error: <message>`
pub fn error(message: &str) {
    eprint_line(&format!("agent-runner: error: {message}"));
}

/// `agent-runner: warning: <message>`
pub fn warning(message: &str) {
    eprint_line(&format!("agent-runner: warning: {message}"));
}

/// `agent-runner: note: <message>`
pub fn note(message: &str) {
    eprint_line(&format!("agent-runner: note: {message}"));
}
