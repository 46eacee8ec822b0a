//! Running one agent turn: replaying fixtures and script actions (headless), or acting as a
//! terminal program that logs every byte it receives (interactive).

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Duration;

use agent_runner::agents::fixture::{FixtureVars, render_fixture};

use super::clis::Cli;
use super::fixtures::template;
use super::record;
use super::script::{Action, check_off, expand_env};

/// What every action needs to know.
pub struct TurnCtx {
    pub cli: Cli,
    pub turn: Option<u64>,
    pub session_id: String,
    pub cwd: String,
    pub home: String,
    pub prompt: String,
    /// Text that may name the agent-runner binary (`--allowedTools`, system text, prompt).
    pub hints: String,
    pub interactive: bool,
    /// The schema of a native structured-output option (claude `--json-schema`, codex
    /// `--output-schema`'s file, read), when one was given.
    pub native_schema: Option<String>,
}

/// The answer used when a script does not give one.
pub const DEFAULT_TEXT: &str = "Done.";

fn out(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
    let _ = stderr.flush();
}

impl TurnCtx {
    fn newline(&self) -> &'static str {
        if self.interactive { "\r\n" } else { "\n" }
    }

    /// Answers with the JSON value `json` (compact text) as the CLI gives a structured answer.
    fn answer_json(&self, json: &str) -> i32 {
        match (self.cli, &self.native_schema) {
            (Cli::Codex, Some(schema))
                if serde_json::from_str::<serde_json::Value>(schema).is_err() =>
            {
                err("fake-agent: the --output-schema file is missing or not JSON");
                1
            }
            (Cli::Claude, Some(_)) => self.emit_with("structured", None, json),
            (Cli::Codex, Some(_)) => self.emit("success", Some(json)),
            _ => {
                let pretty = serde_json::from_str::<serde_json::Value>(json)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                    .unwrap_or_else(|_| json.to_owned());
                let text = format!("Here is my answer.\n\n```json\n{pretty}\n```");
                self.emit("success", Some(&text))
            }
        }
    }

    /// Prints a fixture (stdout lines, then stderr lines); returns its exit status.
    pub fn emit(&self, scenario: &str, text: Option<&str>) -> i32 {
        self.emit_with(scenario, text, "")
    }

    /// [`TurnCtx::emit`] with a JSON value for the fixture's `{{json}}`.
    fn emit_with(&self, scenario: &str, text: Option<&str>, json: &str) -> i32 {
        let Some(tpl) = template(self.cli.name(), scenario) else {
            err(&format!(
                "fake-agent: no fixture {}/{scenario}",
                self.cli.name()
            ));
            return 70;
        };
        let vars = FixtureVars {
            session_id: &self.session_id,
            text: text.unwrap_or(DEFAULT_TEXT),
            cwd: &self.cwd,
            home: &self.home,
            resets_at: resets_at(),
            json,
        };
        let fixture = render_fixture(tpl, &vars);
        for line in &fixture.lines {
            let line = super::codex_usage::turn_line(self, line);
            out(format!("{line}{}", self.newline()).as_bytes());
        }
        for line in &fixture.stderr {
            err(line);
        }
        fixture.exit
    }

    fn crash(&self, scenario: &str) -> ! {
        if let Some(tpl) = template(self.cli.name(), scenario) {
            let vars = FixtureVars {
                session_id: &self.session_id,
                text: DEFAULT_TEXT,
                cwd: &self.cwd,
                home: &self.home,
                resets_at: resets_at(),
                json: "",
            };
            let lines = render_fixture(tpl, &vars).lines;
            let half = lines.len() / 2;
            for line in &lines[..half] {
                out(format!("{line}\n").as_bytes());
            }
            if let Some(next) = lines.get(half) {
                out(&next.as_bytes()[..next.len() / 2]);
            }
        }
        std::process::abort()
    }
}

/// When a usage limit resets: `FAKE_AGENT_RESETS_IN` seconds from now (default an hour).
fn resets_at() -> u64 {
    let secs = std::env::var("FAKE_AGENT_RESETS_IN")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(3600);
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + secs
}

/// Runs `actions`; returns the exit status.
pub fn run(ctx: &TurnCtx, actions: &[Action], input: Option<&Input>) -> i32 {
    let mut status = 0;
    for action in actions {
        match action {
            Action::Emit { fixture, text } => status = ctx.emit(fixture, text.as_deref()),
            Action::Text(text) => status = ctx.emit("success", Some(text)),
            Action::Json(json) => status = ctx.answer_json(json),
            Action::WriteFile { path, content } => {
                let path = std::path::Path::new(&ctx.cwd).join(expand_env(path));
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if let Err(e) = std::fs::write(&path, content) {
                    err(&format!("fake-agent: cannot write {}: {e}", path.display()));
                }
            }
            Action::CheckOff { path, all } => {
                let path = std::path::Path::new(&ctx.cwd).join(expand_env(path));
                let edited = std::fs::read_to_string(&path)
                    .and_then(|text| std::fs::write(&path, check_off(&text, *all)));
                if let Err(e) = edited {
                    err(&format!(
                        "fake-agent: cannot check off {}: {e}",
                        path.display()
                    ));
                }
            }
            Action::Sh(command) => {
                if let Some(code) = sh(ctx, command) {
                    return code;
                }
            }
            Action::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Action::Exit(code) => return *code,
            Action::Hang => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Action::CrashMidStream { fixture } => ctx.crash(fixture),
            Action::Stderr(text) => err(text),
            Action::Print(text) => out(format!("{text}{}", ctx.newline()).as_bytes()),
            Action::ContinueViaCommand { note, exe } => {
                continue_via_command(ctx, note.as_deref(), exe.as_deref())
            }
            Action::ContinueViaSentinel { token } => continue_via_sentinel(token.as_deref()),
            Action::ExitAfterInput { contains, code } => {
                if let Some(input) = input {
                    input.wait_for(contains);
                }
                return *code;
            }
            Action::UseAltScreen => out(b"\x1b[?1049h\x1b[?2004h\x1b[?25l"),
            Action::PrintSize => {
                PRINT_SIZE.store(true, Ordering::SeqCst);
                print_size(ctx);
            }
            Action::KillSelf(name) => kill_self(name),
            Action::Spend(spend) => status = super::spend::run(ctx, spend),
        }
    }
    status
}

/// Dies by the signal `name` (`SIGKILL`, `KILL`, ...), as a crashing agent would.
fn kill_self(name: &str) {
    let full = if name.starts_with("SIG") {
        name.to_string()
    } else {
        format!("SIG{name}")
    };
    match full.parse::<nix::sys::signal::Signal>() {
        Ok(signal) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), signal);
            // A blocked or caught signal (SIGTERM is drained first) still ends the process.
            std::thread::sleep(Duration::from_secs(30));
        }
        Err(_) => err(&format!("fake-agent: unknown signal {name}")),
    }
}

/// Runs `command` with `/bin/sh -c` in the turn's directory; `Some(status)` when it failed.
fn sh(ctx: &TurnCtx, command: &str) -> Option<i32> {
    let output = std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .current_dir(&ctx.cwd)
        .stdin(std::process::Stdio::null())
        .output();
    match output {
        Ok(o) => {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(&o.stdout);
            let _ = stderr.write_all(&o.stderr);
            let code = o.status.code().unwrap_or(1);
            (code != 0).then(|| {
                let _ = writeln!(stderr, "fake-agent: sh exited with {code}: {command}");
                code
            })
        }
        Err(e) => {
            err(&format!("fake-agent: cannot run /bin/sh: {e}"));
            Some(70)
        }
    }
}

fn continue_via_command(ctx: &TurnCtx, note: Option<&str>, exe: Option<&str>) {
    let exe = exe
        .map(str::to_string)
        .or_else(|| runner_exe(&ctx.hints))
        .unwrap_or_else(|| "agent-runner".into());
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["step", "continue"]);
    if let Some(note) = note {
        cmd.args(["--note", note]);
    }
    match cmd.output() {
        Ok(o) => {
            out(&crlf(&o.stdout));
            out(&crlf(&o.stderr));
        }
        Err(e) => err(&format!("fake-agent: cannot run {exe}: {e}")),
    }
}

/// Finds `<abs> step continue` in the hints (claude's `--allowedTools`, or the framing text).
pub fn runner_exe(hints: &str) -> Option<String> {
    let at = hints.find(" step continue")?;
    let start = hints[..at]
        .rfind(['(', '`', ' ', '\n', '"'])
        .map(|i| i + 1)
        .unwrap_or(0);
    Some(hints[start..at].to_string()).filter(|s| !s.is_empty())
}

fn continue_via_sentinel(token: Option<&str>) {
    let token = token
        .map(str::to_string)
        .or_else(|| std::env::var("AGENT_RUNNER_CONTROL_TOKEN").ok())
        .unwrap_or_default();
    let seq = format!("\x1b]9999;agent-runner;continue;{token}\x07");
    match std::env::var_os("AGENT_RUNNER_TTY")
        .and_then(|p| std::fs::OpenOptions::new().write(true).open(p).ok())
    {
        Some(mut tty) => {
            let _ = tty.write_all(seq.as_bytes());
        }
        None => out(seq.as_bytes()),
    }
}

static PRINT_SIZE: AtomicBool = AtomicBool::new(false);
static RESIZED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_winch(_: nix::libc::c_int) {
    RESIZED.store(true, Ordering::SeqCst);
}

fn print_size(ctx: &TurnCtx) {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer, which is valid for the call.
    let rc = unsafe { nix::libc::ioctl(nix::libc::STDIN_FILENO, nix::libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 {
        out(format!("size: {}x{}{}", ws.ws_row, ws.ws_col, ctx.newline()).as_bytes());
    }
}

/// Serialises reading and logging terminal input between the input thread and the SIGTERM
/// drain, so a chunk that was read is always logged before the process exits.
static READING: Mutex<()> = Mutex::new(());

/// How long the SIGTERM drain waits for more input before exiting.
const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// Whether stdin has bytes within `timeout_ms` (or has hung up).
fn stdin_ready(timeout_ms: u16) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
}

/// Reads one chunk of terminal input and logs it; `None` at end of input.
fn read_logged(turn: Option<u64>, buf: &mut [u8]) -> Option<Vec<u8>> {
    match std::io::stdin().read(buf) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            record::append(&record::stdin_line(turn, &buf[..n]));
            Some(buf[..n].to_vec())
        }
    }
}

/// Terminal input, read on its own thread and logged chunk by chunk.
pub struct Input {
    rx: mpsc::Receiver<Option<Vec<u8>>>,
    seen: std::cell::RefCell<Vec<u8>>,
    closed: std::cell::Cell<bool>,
}

impl Input {
    pub fn start(turn: Option<u64>) -> Input {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                if !stdin_ready(100) {
                    continue;
                }
                let guard = READING.lock().unwrap_or_else(PoisonError::into_inner);
                // The SIGTERM drain may have taken the bytes while this thread waited.
                if !stdin_ready(0) {
                    continue;
                }
                let chunk = read_logged(turn, &mut buf);
                drop(guard);
                let Some(chunk) = chunk else {
                    let _ = tx.send(None);
                    break;
                };
                if tx.send(Some(chunk)).is_err() {
                    break;
                }
            }
        });
        Input {
            rx,
            seen: Default::default(),
            closed: Default::default(),
        }
    }

    /// Waits up to `timeout` for input; false once input has ended.
    fn pump(&self, timeout: Duration) -> bool {
        if self.closed.get() {
            std::thread::sleep(timeout);
            return false;
        }
        match self.rx.recv_timeout(timeout) {
            Ok(Some(bytes)) => {
                self.seen.borrow_mut().extend(bytes);
                true
            }
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.closed.set(true);
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
        }
    }

    /// Blocks until the input seen so far contains `needle` (any input when empty) or ends.
    fn wait_for(&self, needle: &str) {
        let start = self.seen.borrow().len();
        loop {
            let seen = self.seen.borrow();
            let done = if needle.is_empty() {
                seen.len() > start
            } else {
                seen.windows(needle.len()).any(|w| w == needle.as_bytes())
            };
            drop(seen);
            if done || !self.pump(Duration::from_millis(50)) && self.closed.get() {
                return;
            }
        }
    }
}

/// Interactive mode: raw terminal, ready line, the script's actions, then wait for the input to
/// end (the runner stops the child with SIGTERM; see [`on_sigterm_drain`]).
pub fn interactive(ctx: &TurnCtx, actions: &[Action]) -> i32 {
    let saved = raw_mode();
    on_sigterm_drain(ctx.turn, saved.clone());
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGWINCH,
            nix::sys::signal::SigHandler::Handler(on_winch),
        )
    };
    out(format!(
        "{} (fake) ready; session {}\r\n",
        ctx.cli.name(),
        ctx.session_id
    )
    .as_bytes());
    let input = Input::start(ctx.turn);
    let mut status = run(ctx, actions, Some(&input));
    let exited = actions
        .iter()
        .any(|a| matches!(a, Action::Exit(_) | Action::ExitAfterInput { .. }));
    if !exited {
        while input.pump(Duration::from_millis(100)) || !input.closed.get() {
            if RESIZED.swap(false, Ordering::SeqCst) && PRINT_SIZE.load(Ordering::SeqCst) {
                print_size(ctx);
            }
        }
        status = 0;
    }
    if let Some(termios) = saved {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &termios,
        );
    }
    status
}

fn raw_mode() -> Option<nix::sys::termios::Termios> {
    use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let saved = tcgetattr(std::io::stdin()).ok()?;
    let mut raw = saved.clone();
    cfmakeraw(&mut raw);
    tcsetattr(std::io::stdin(), SetArg::TCSANOW, &raw).ok()?;
    Some(saved)
}

/// Like a TUI that handles SIGTERM, the fake finishes reading what is already in its terminal's
/// input queue before it exits (status 143). The runner writes its last bytes (the DELs that erase
/// `/continue`) just before it sends SIGTERM, so the log then shows every byte the agent received,
/// and a byte the runner withheld is provably never received. SIGTERM is blocked in every thread
/// and taken by a thread of its own with `sigwait`; `std::process::Command` unblocks it again in
/// the children it spawns.
fn on_sigterm_drain(turn: Option<u64>, saved: Option<nix::sys::termios::Termios>) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if set.wait().is_err() {
            return;
        }
        let guard = READING.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buf = [0u8; 4096];
        while stdin_ready(DRAIN_QUIET.as_millis() as u16) {
            if read_logged(turn, &mut buf).is_none() {
                break;
            }
        }
        if let Some(termios) = saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                &termios,
            );
        }
        drop(guard);
        std::process::exit(143);
    });
}

/// `bytes` with each `\n` written as `\r\n`, as a terminal in raw mode needs.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut converted = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b == b'\n' {
            converted.push(b'\r');
        }
        converted.push(b);
    }
    converted
}
