//! The terminal relay: runs one interactive step's child in a pseudo-terminal (interactive.md).
//!
//! # Theory of operation
//!
//! [`run_relay`] is called by the executor of an interactive agent step (with [`Triggers`]) or an
//! interactive shell step (without), and blocks until the step is over:
//!
//! 1. **Setup.** stdin and stdout must be terminals, else [`RelayError::NoTerminal`]. With
//!    triggers, the [`ControlServer`] starts. A PTY is opened at the terminal's size, the
//!    [`TerminalGuard`] switches the user's terminal to raw mode, SIGWINCH and SIGTSTP get their
//!    handlers ([`RelaySignals`]), and the child is spawned as a session leader on the PTY slave
//!    with the step's environment plus the control variables. The parent's copy of the slave is
//!    closed at once, so the output pump sees end-of-file when the child's side closes.
//! 2. **Relay.** Two threads copy bytes ([`pumps`](super::pumps)): keystrokes through the
//!    [`InputFilter`] to the PTY, output through the [`OutputFilter`] to the [`Console`] (terminal,
//!    `vt100` screen model — or, without an idle hint, the lighter screen tracker — and
//!    transcript). They report triggers over a channel.
//! 3. **The loop** on the caller's thread wakes every [`TICK`] or on an event. It decides how the
//!    step ends: a user trigger ends it at once; an agent trigger (`step continue` over the socket,
//!    or the sentinel) starts the *settle* — wait until the agent has been quiet for
//!    [`SETTLE_QUIET`] after the trigger, at most [`SETTLE_MAX`] — so the agent can finish its reply
//!    and save its session; the child exiting ends it with its status; [`RelayInterrupt`] (the
//!    runtime's SIGTERM/SIGHUP) ends it as interrupted. Between events it resizes the PTY and the
//!    screen model after SIGWINCH and draws the idle hint.
//! 4. **Stop.** The input pump stops reading. A still-running child gets SIGTERM on its process
//!    group, `stop_grace`, then SIGKILL ([`PtyChild::stop`]); a second interrupt skips the grace.
//!    The output pump drains for up to 200 ms and ends; the reset sequence restores the terminal's
//!    modes; the guard restores termios; the socket is removed; the transcript is written,
//!    redacted.
//!
//! A step ended by a trigger is complete whatever status the stopped child reports. Every way
//! out of this function — including `?` and panics — restores the terminal, because the guard,
//! the signal handlers and the control server are dropped (or, for a panic, the hook runs).

use crate::error::ErrorClass;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde::Serialize;

use super::child::{ChildEnd, PtyChild};
use super::console::Console;
use super::control_socket::{ControlRequest, ControlServer};
use super::idle_hint::IdleHint;
use super::input_filter::{InputFilter, UserTrigger};
use super::output_filter::{OutputEvent, OutputFilter};
use super::pumps::{self, PumpEvent, lock};
use super::signals::RelaySignals;
use super::terminal_guard::TerminalGuard;

/// How often the relay loop looks at the clock, the child and SIGWINCH.
pub const TICK: Duration = Duration::from_millis(50);
/// After an agent trigger: the agent must have been quiet this long…
pub const SETTLE_QUIET: Duration = Duration::from_millis(1500);
/// …or this much time has passed since the trigger.
pub const SETTLE_MAX: Duration = Duration::from_secs(10);
const FALLBACK_SIZE: (u16, u16) = (24, 80);

/// Redacts the transcript before it is written (runs-and-state.md §8).
pub type Redactor = Box<dyn Fn(&str) -> String + Send + Sync>;

/// Everything the relay needs to run one step.
pub struct RelaySpec {
    /// The step path, for the `no_terminal` message.
    pub step_path: String,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variables to set in the child (after `env_remove`).
    pub env: Vec<(OsString, OsString)>,
    /// Variables to remove from the inherited environment. A name ending in `*` removes every
    /// variable with that prefix (`AR_*`).
    pub env_remove: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// The step-ending triggers of an agent step; `None` for an interactive shell step (no
    /// `/continue`, Ctrl-], sentinel, idle hint or control variables).
    pub triggers: Option<Triggers>,
    /// `interactive.idle_hint`.
    pub idle_hint: bool,
    /// `interactive.idle_hint_after`.
    pub idle_hint_after: Duration,
    /// `interactive.stop_grace`.
    pub stop_grace: Duration,
    /// Where to write the transcript (`output/<seq>-<slug>.transcript.txt`), if anywhere.
    pub transcript_path: Option<PathBuf>,
    /// Applied to the transcript before it is written.
    pub redact: Option<Redactor>,
    /// Lets the runtime stop the relay from outside.
    pub interrupt: RelayInterrupt,
}

impl RelaySpec {
    /// A spec with the documented defaults: no triggers, idle hint on after 3 s, 3 s grace.
    pub fn new(step_path: impl Into<String>, program: impl Into<OsString>) -> Self {
        Self {
            step_path: step_path.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: None,
            triggers: None,
            idle_hint: true,
            idle_hint_after: Duration::from_secs(3),
            stop_grace: Duration::from_secs(3),
            transcript_path: None,
            redact: None,
            interrupt: RelayInterrupt::default(),
        }
    }
}

/// The control channel of an interactive agent step.
#[derive(Debug, Clone)]
pub struct Triggers {
    /// `AGENT_RUNNER_CONTROL_TOKEN`: 32 hex digits, new for every step attempt.
    pub token: String,
    /// `AGENT_RUNNER_CONTROL`: see [`control_socket_path`](super::control_socket::control_socket_path).
    pub control_socket: PathBuf,
}

/// Stops a running relay from another thread, as the first (and second) interruption of the
/// run: the first stops the child with SIGTERM and the grace period, a second one kills it at once.
#[derive(Debug, Clone, Default)]
pub struct RelayInterrupt(Arc<AtomicU32>);

impl RelayInterrupt {
    /// A fresh handle; clone it into the [`RelaySpec`] and keep one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the relay to stop (or, the second time, to stop now).
    pub fn interrupt(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Who ended a completed step: the `source` of the `control` audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionSource {
    /// The user typed `/continue` and Enter.
    UserCommand,
    /// The user pressed Ctrl-].
    CtrlBracket,
    /// The agent ran `agent-runner step continue`.
    AgentCommand,
    /// The agent wrote the sentinel.
    Sentinel,
    /// The child exited with status 0.
    AgentExit,
}

/// How the step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelayEnd {
    /// The step is done (a success).
    Completed {
        source: CompletionSource,
        /// `step continue --note`.
        note: Option<String>,
    },
    /// The user typed `/abort`: the run's first interruption.
    Aborted,
    /// [`RelayInterrupt::interrupt`] was called: the run's first interruption.
    Interrupted,
    /// The child exited by itself with a non-zero status.
    Exited { code: i32 },
    /// A signal killed the child (not one the relay sent).
    Signaled { name: String },
}

/// The result of a relay run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelayOutcome {
    pub end: RelayEnd,
    /// Things to log as `warning` events (a wrong sentinel token, a transcript that could not be
    /// written).
    pub warnings: Vec<String>,
}

/// Why the relay could not run the step.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(
        "interactive step \"{step}\" needs a terminal ({stream} is not a terminal); run agent-runner from a terminal or make the step headless"
    )]
    NoTerminal { step: String, stream: &'static str },
    #[error("{program} was not found")]
    ProgramNotFound { program: String },
    #[error("cannot start {program}: {message}")]
    Spawn { program: String, message: String },
    #[error("cannot open a pseudo-terminal: {0}")]
    Pty(String),
    #[error("cannot set up the terminal: {0}")]
    Terminal(#[source] io::Error),
    #[error("cannot create the control socket {path}: {source}", path = .path.display())]
    Control { path: PathBuf, source: io::Error },
}

impl RelayError {
    /// The step's error class (runs-and-state.md §7).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NoTerminal { .. } => ErrorClass::NoTerminal,
            Self::ProgramNotFound { .. } => ErrorClass::CliMissing,
            _ => ErrorClass::Internal,
        }
    }
}

/// An agent trigger waiting for the agent to fall quiet.
struct Settle {
    since: Instant,
    end: RelayEnd,
}

/// Runs the step's child in a PTY until the step ends. See the module doc.
pub fn run_relay(spec: RelaySpec) -> Result<RelayOutcome, RelayError> {
    check_terminals(&spec.step_path)?;
    check_program(&spec)?;
    let (control_tx, control_rx) = mpsc::channel::<ControlRequest>();
    let server = match &spec.triggers {
        Some(triggers) => Some(
            ControlServer::start(&triggers.control_socket, &triggers.token, control_tx).map_err(
                |source| RelayError::Control {
                    path: triggers.control_socket.clone(),
                    source,
                },
            )?,
        ),
        None => None,
    };
    let stdin = io::stdin();
    let (rows, cols) = terminal_size(io::stdout().as_fd()).unwrap_or(FALLBACK_SIZE);
    let pair = native_pty_system()
        .openpty(pty_size(rows, cols))
        .map_err(|e| RelayError::Pty(e.to_string()))?;
    let guard = TerminalGuard::enter_raw(stdin.as_fd()).map_err(RelayError::Terminal)?;
    let signals = RelaySignals::install().map_err(RelayError::Terminal)?;
    let mut command = command(&spec, pair.master.tty_name());
    let spawning =
        crate::exec::process::guard::Spawning::begin(|name, value| command.env(name, value));
    let handle = pair
        .slave
        .spawn_command(command)
        .map_err(|e| spawn_error(&spec, e.to_string()))?;
    drop(pair.slave);
    let master = pair.master;
    let mut child = PtyChild::new(handle, spawning)
        .ok_or_else(|| spawn_error(&spec, "the child has no process id".into()))?;

    let hint =
        (spec.triggers.is_some() && spec.idle_hint).then(|| IdleHint::new(spec.idle_hint_after));
    let (events_tx, events) = mpsc::channel();
    let stop_input = Arc::new(AtomicBool::new(false));
    let draining = Arc::new(AtomicBool::new(false));
    let fds = master
        .as_raw_fd()
        .ok_or_else(|| RelayError::Pty("the PTY master has no descriptor".into()))
        .and_then(|raw| {
            // SAFETY: `raw` is the open master descriptor, owned by `master`, which outlives
            // this borrow; it is only duplicated here.
            let fd = unsafe { BorrowedFd::borrow_raw(raw) };
            // Whatever the step's console printed goes out before the child's output does.
            let _ = io::stdout().lock().flush();
            Ok((
                dup(fd)?,
                dup(fd)?,
                dup(stdin.as_fd())?,
                dup(io::stdout().as_fd())?,
            ))
        });
    let (master_in, master_out, user_in, user_out) = match fds {
        Ok(fds) => fds,
        Err(err) => {
            child.stop(spec.stop_grace, || true);
            return Err(err);
        }
    };
    // A plain `File`: one unbuffered `write` per chunk, where `io::stdout()` (a `LineWriter`)
    // would split every chunk at its last newline into two.
    let console = Arc::new(Mutex::new(Console::new(
        Box::new(File::from(user_out)),
        rows,
        cols,
        hint,
    )));
    let input = pumps::spawn_input(
        user_in,
        File::from(master_in),
        spec.triggers.as_ref().map(|_| InputFilter::new()),
        Arc::clone(&console),
        events_tx.clone(),
        Arc::clone(&stop_input),
    );
    let output = pumps::spawn_output(
        File::from(master_out),
        spec.triggers.as_ref().map(|t| OutputFilter::new(&t.token)),
        Arc::clone(&console),
        events_tx,
        Arc::clone(&draining),
    );

    let mut warnings = Vec::new();
    let mut output_closed = false;
    let threads_failed = match (&input, &output) {
        (Err(err), _) | (_, Err(err)) => Some(RelayError::Pty(format!(
            "cannot start the relay threads: {err}"
        ))),
        _ => None,
    };
    let (end, child_end) = match threads_failed {
        None => relay_loop(
            &spec,
            &mut child,
            &events,
            &control_rx,
            &signals,
            &console,
            master.as_ref(),
            &mut warnings,
            &mut output_closed,
        ),
        // Stopped below like any other end; the error is returned once the terminal is back.
        Some(_) => (RelayEnd::Interrupted, None),
    };

    // Stop.
    stop_input.store(true, Ordering::Relaxed);
    let first_interrupts = spec.interrupt.count().max(1);
    let child_end = child_end.unwrap_or_else(|| {
        child.stop(spec.stop_grace, || {
            spec.interrupt.count() > first_interrupts
        })
    });
    draining.store(true, Ordering::Relaxed);
    for pump in [input, output].into_iter().flatten() {
        let _ = pump.join();
    }
    drop(master);
    drop(server);
    lock(&console).finish();
    drop(guard);
    drop(signals);

    if let Some(err) = threads_failed {
        return Err(err);
    }
    if let ChildEnd::Lost = child_end {
        warnings.push("the child's exit status was lost".into());
    }
    if let Some(path) = &spec.transcript_path {
        let text = lock(&console).transcript().render();
        if let Err(err) = write_transcript(path, &text, spec.redact.as_ref()) {
            warnings.push(format!(
                "cannot write the transcript {}: {err}",
                path.display()
            ));
        }
    }
    Ok(RelayOutcome { end, warnings })
}

/// The loop of step 3 in the module doc. Returns how the step ended and, when the child ended by
/// itself, how it did.
#[expect(
    clippy::too_many_arguments,
    reason = "the loop's state is the relay's locals"
)]
fn relay_loop(
    spec: &RelaySpec,
    child: &mut PtyChild,
    events: &mpsc::Receiver<PumpEvent>,
    control: &mpsc::Receiver<ControlRequest>,
    signals: &RelaySignals,
    console: &Mutex<Console>,
    master: &dyn portable_pty::MasterPty,
    warnings: &mut Vec<String>,
    output_closed: &mut bool,
) -> (RelayEnd, Option<ChildEnd>) {
    let mut settle: Option<Settle> = None;
    loop {
        if spec.interrupt.count() > 0 {
            return (RelayEnd::Interrupted, None);
        }
        match events.recv_timeout(TICK) {
            Ok(PumpEvent::User(trigger)) => {
                let end = match (trigger, settle.take()) {
                    (UserTrigger::Abort, _) => RelayEnd::Aborted,
                    (_, Some(settle)) => settle.end,
                    (UserTrigger::Continue, None) => completed(CompletionSource::UserCommand, None),
                    (UserTrigger::CtrlBracket, None) => {
                        completed(CompletionSource::CtrlBracket, None)
                    }
                };
                return (end, None);
            }
            Ok(PumpEvent::Output(OutputEvent::Sentinel)) => {
                settle.get_or_insert_with(|| Settle {
                    since: Instant::now(),
                    end: completed(CompletionSource::Sentinel, None),
                });
            }
            Ok(PumpEvent::Output(OutputEvent::WrongToken)) => {
                warnings.push("ignored a continue sentinel with a wrong or stale token".into())
            }
            Ok(PumpEvent::OutputClosed) | Err(RecvTimeoutError::Disconnected) => {
                *output_closed = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        while let Ok(request) = control.try_recv() {
            settle.get_or_insert_with(|| Settle {
                since: Instant::now(),
                end: completed(CompletionSource::AgentCommand, request.note),
            });
        }
        if signals.take_resize()
            && let Some((rows, cols)) = terminal_size(io::stdout().as_fd())
        {
            let _ = master.resize(pty_size(rows, cols));
            lock(console).resize(rows, cols);
        }
        let now = Instant::now();
        lock(console).tick(now);
        if let Some(child_end) = child.try_end() {
            let end = match settle.take() {
                Some(settle) => settle.end,
                None => self_exit(child_end),
            };
            return (end, Some(child_end));
        }
        let settled = settle.as_ref().is_some_and(|pending| {
            let since = now.saturating_duration_since(pending.since);
            let quiet = lock(console).quiet_for(now).min(since);
            quiet >= SETTLE_QUIET || since >= SETTLE_MAX
        });
        if settled && let Some(settle) = settle.take() {
            return (settle.end, None);
        }
        if *output_closed {
            // The child closed its terminal but has not exited yet; keep polling for its status
            // without spinning on a dead channel.
            std::thread::sleep(TICK);
        }
    }
}

fn completed(source: CompletionSource, note: Option<String>) -> RelayEnd {
    RelayEnd::Completed { source, note }
}

fn self_exit(end: ChildEnd) -> RelayEnd {
    match end {
        ChildEnd::Exited(0) => completed(CompletionSource::AgentExit, None),
        ChildEnd::Exited(code) => RelayEnd::Exited { code },
        ChildEnd::Signaled(signal) => RelayEnd::Signaled {
            name: signal.as_str().to_owned(),
        },
        ChildEnd::Lost => RelayEnd::Exited { code: -1 },
    }
}

/// The relay's precondition: stdin and stdout are terminals (interactive.md §1.1).
pub fn check_terminals(step_path: &str) -> Result<(), RelayError> {
    let stream = if !io::stdin().is_terminal() {
        "stdin"
    } else if !io::stdout().is_terminal() {
        "stdout"
    } else {
        return Ok(());
    };
    Err(RelayError::NoTerminal {
        step: step_path.to_owned(),
        stream,
    })
}

/// Fails early, with a class the executor can map to `cli_missing`, when the program is not there.
fn check_program(spec: &RelaySpec) -> Result<(), RelayError> {
    let inherited = std::env::var_os("PATH");
    let path = spec
        .env
        .iter()
        .rev()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.clone())
        .or(inherited);
    let cwd = spec
        .cwd
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    match find_program(&spec.program, path.as_deref(), &cwd) {
        Some(_) => Ok(()),
        None => Err(RelayError::ProgramNotFound {
            program: spec.program.to_string_lossy().into_owned(),
        }),
    }
}

fn find_program(program: &OsStr, path: Option<&OsStr>, cwd: &Path) -> Option<PathBuf> {
    let is_executable = |candidate: &Path| {
        std::fs::metadata(candidate)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if Path::new(program).components().count() > 1 {
        let candidate = cwd.join(program);
        return is_executable(&candidate).then_some(candidate);
    }
    std::env::split_paths(path?)
        .map(|dir| cwd.join(dir).join(program))
        .find(|candidate| is_executable(candidate))
}

fn command(spec: &RelaySpec, tty: Option<PathBuf>) -> CommandBuilder {
    let mut command = CommandBuilder::new(&spec.program);
    command.args(&spec.args);
    if let Some(cwd) = &spec.cwd {
        command.cwd(cwd);
    }
    for name in &spec.env_remove {
        match name.to_str().and_then(|n| n.strip_suffix('*')) {
            Some(prefix) => {
                for (key, _) in std::env::vars_os() {
                    if key.to_str().is_some_and(|k| k.starts_with(prefix)) {
                        command.env_remove(key);
                    }
                }
            }
            None => command.env_remove(name),
        }
    }
    for (name, value) in &spec.env {
        command.env(name, value);
    }
    if let Some(triggers) = &spec.triggers {
        if let Some(tty) = tty {
            command.env("AGENT_RUNNER_TTY", tty);
        }
        command.env("AGENT_RUNNER_CONTROL", &triggers.control_socket);
        command.env("AGENT_RUNNER_CONTROL_TOKEN", &triggers.token);
    }
    if command.get_env("TERM").is_none() {
        command.env("TERM", "xterm-256color");
    }
    command
}

fn spawn_error(spec: &RelaySpec, message: String) -> RelayError {
    RelayError::Spawn {
        program: spec.program.to_string_lossy().into_owned(),
        message,
    }
}

fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, RelayError> {
    nix::unistd::dup(fd).map_err(|e| RelayError::Pty(e.to_string()))
}

fn pty_size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn write_transcript(path: &Path, text: &str, redact: Option<&Redactor>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match redact {
        Some(redact) => std::fs::write(path, redact(text)),
        None => std::fs::write(path, text),
    }
}

/// The size of the terminal on `fd`, as (rows, cols).
fn terminal_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut size = nix::pty::Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which is valid and exclusive
    // for the duration of the call.
    unsafe { winsize::get(fd.as_raw_fd(), &mut size) }.ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

mod winsize {
    nix::ioctl_read_bad!(get, nix::libc::TIOCGWINSZ, nix::pty::Winsize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_terminal_message_matches_the_spec() {
        let err = RelayError::NoTerminal {
            step: "implement".into(),
            stream: "stdin",
        };
        assert_eq!(
            err.to_string(),
            "interactive step \"implement\" needs a terminal (stdin is not a terminal); run agent-runner from a terminal or make the step headless"
        );
        assert_eq!(err.class(), ErrorClass::NoTerminal);
    }

    #[test]
    fn programs_are_found_on_path_or_by_relative_path() {
        let path = OsString::from("/nonexistent:/bin:/usr/bin");
        assert!(find_program(OsStr::new("sh"), Some(&path), Path::new("/")).is_some());
        assert!(find_program(OsStr::new("no-such-cli-xyz"), Some(&path), Path::new("/")).is_none());
        assert!(find_program(OsStr::new("bin/sh"), None, Path::new("/")).is_some());
        assert!(find_program(OsStr::new("sh"), None, Path::new("/")).is_none());
    }

    #[test]
    fn self_exit_maps_to_the_step_outcome() {
        assert_eq!(
            self_exit(ChildEnd::Exited(0)),
            completed(CompletionSource::AgentExit, None)
        );
        assert_eq!(self_exit(ChildEnd::Exited(3)), RelayEnd::Exited { code: 3 });
        assert_eq!(
            self_exit(ChildEnd::Signaled(nix::sys::signal::Signal::SIGKILL)),
            RelayEnd::Signaled {
                name: "SIGKILL".into()
            }
        );
    }

    #[test]
    fn the_environment_gets_the_control_variables_and_a_default_term() {
        let mut spec = RelaySpec::new("s", "sh");
        spec.env_remove = vec!["PATH".into(), "TERM".into()];
        spec.env = vec![("AGENT_RUNNER_STEP".into(), "s".into())];
        spec.triggers = Some(Triggers {
            token: "t".repeat(32),
            control_socket: "/run/x.sock".into(),
        });
        let command = command(&spec, Some("/dev/pts/9".into()));
        assert_eq!(command.get_env("PATH"), None);
        assert_eq!(command.get_env("TERM"), Some(OsStr::new("xterm-256color")));
        assert_eq!(
            command.get_env("AGENT_RUNNER_TTY"),
            Some(OsStr::new("/dev/pts/9"))
        );
        assert_eq!(
            command.get_env("AGENT_RUNNER_CONTROL"),
            Some(OsStr::new("/run/x.sock"))
        );
        assert_eq!(command.get_env("AGENT_RUNNER_STEP"), Some(OsStr::new("s")));
        spec.triggers = None;
        assert_eq!(spec_command_tty(&spec), None);
    }

    #[test]
    fn the_transcript_is_written_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output").join("3-plan.transcript.txt");
        let redact: Redactor = Box::new(|text| text.replace("s3cret", "[REDACTED]"));
        write_transcript(&path, "key s3cret\n", Some(&redact)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "key [REDACTED]\n");
    }

    fn spec_command_tty(spec: &RelaySpec) -> Option<OsString> {
        command(spec, Some("/dev/pts/9".into()))
            .get_env("AGENT_RUNNER_TTY")
            .map(OsStr::to_owned)
    }
}
