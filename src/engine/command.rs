//! Running one engine command: no shell, the project dir as working directory, stdin null, the
//! agents' environment cleanup, its own process group, and a time limit.
//!
//! Hook commands are short (`openspec status --json`), so this is plain `std::process`: two
//! reader threads drain stdout and stderr while the caller polls `try_wait`. At the deadline the
//! whole process group is killed, so a command that started children of its own cannot keep the
//! pipes open. Output beyond [`MAX_OUTPUT`] per stream is read and dropped.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::agents::env::is_removed;

/// Bytes kept of each output stream.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// `None` when it was killed by a signal (or by the time limit).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Runs `argv` in `dir` with the cleaned environment plus `env`, and waits for it, at most
/// `timeout`. `Err` when it could not start.
pub fn run(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Finished, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("the command is empty".to_owned());
    };
    if program.is_empty() {
        return Err("the command name is empty".to_owned());
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(cleaned_env(std::env::vars_os()))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let spawning = crate::exec::process::guard::Spawning::begin(|name, value| {
        command.env(name, value);
    });
    let mut child = command.spawn().map_err(|e| spawn_error(program, dir, &e))?;
    let _watched = spawning.started(Some(child.id()));
    let (sender, receiver) = mpsc::channel();
    let readers = [
        child.stdout.take().map(|s| reader(s, true, sender.clone())),
        child.stderr.take().map(|s| reader(s, false, sender)),
    ];
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = wait(&mut child, deadline);
    // Once the child has exited its output is at most a pipe buffer away. A stream still open
    // after a short grace is held by a background process of the group: kill the group, which
    // closes it, and collect what arrived.
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut grace = Instant::now() + Duration::from_millis(500);
    let mut killed = timed_out;
    let mut pending = readers.iter().flatten().count();
    while pending > 0 {
        let left = grace.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((true, bytes)) => stdout = bytes,
            Ok((false, bytes)) => stderr = bytes,
            Err(_) if !killed => {
                kill_group(&child);
                killed = true;
                grace = Instant::now() + Duration::from_secs(1);
                continue;
            }
            Err(_) => break,
        }
        pending -= 1;
    }
    Ok(Finished {
        exit_code: status.and_then(|s| s.code()),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
    })
}

/// The parent's environment without the variables agents must not see (agents.md §9).
pub fn cleaned_env<I>(parent: I) -> Vec<(OsString, OsString)>
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    parent
        .into_iter()
        .filter(|(k, _)| !k.to_str().is_some_and(is_removed))
        .collect()
}

fn spawn_error(program: &str, dir: &Path, err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound if !program.contains('/') => {
            format!("\"{program}\" is not on PATH")
        }
        std::io::ErrorKind::NotFound if !dir.is_dir() => {
            format!(
                "cannot run \"{program}\": the project dir {} does not exist",
                dir.display()
            )
        }
        _ => format!("cannot run \"{program}\": {err}"),
    }
}

/// Drains a stream on its own thread and sends the bytes (capped) when it closes.
fn reader(
    mut stream: impl Read + Send + 'static,
    is_stdout: bool,
    sender: mpsc::Sender<(bool, Vec<u8>)>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        // The receiver is gone only when the caller gave up on this command.
        let _ = sender.send((is_stdout, kept));
    })
}

/// Polls until the child exits or the deadline passes (then kills its group).
fn wait(child: &mut Child, deadline: Instant) -> (Option<std::process::ExitStatus>, bool) {
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) => {}
            Err(_) => return (None, false),
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(child);
            return (child.wait().ok(), true);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn kill_group(child: &Child) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(child.id()) {
        // The group may be gone already; nothing else to do then.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Result<Finished, String> {
        let argv = ["sh", "-c", script].map(String::from);
        run(&argv, Path::new("/"), &[], timeout)
    }

    #[test]
    fn captures_output_exit_code_and_runs_in_the_dir_with_null_stdin() {
        let done = sh("pwd; cat; echo err >&2; exit 3", Duration::from_secs(10)).unwrap();
        assert_eq!(done.stdout, "/\n");
        assert_eq!(done.stderr, "err\n");
        assert_eq!(done.exit_code, Some(3));
        assert!(!done.success());
    }

    #[test]
    fn times_out_and_kills_the_whole_group() {
        let start = Instant::now();
        let done = sh(
            "sleep 30 & sleep 30; echo never",
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(done.timed_out);
        assert_eq!(done.exit_code, None);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_background_child_holding_the_pipe_does_not_block() {
        let start = Instant::now();
        let done = sh("(sleep 30 &) ; echo ok", Duration::from_millis(500)).unwrap();
        assert_eq!(done.exit_code, Some(0));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn the_environment_is_cleaned_like_for_agents() {
        let parent = [
            ("PATH", "/bin"),
            ("CLAUDECODE", "1"),
            ("AR_X", "s"),
            ("HOME", "/h"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let names: Vec<OsString> = cleaned_env(parent).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["PATH", "HOME"]);
    }

    #[test]
    fn a_missing_program_says_so() {
        let argv = ["agent-runner-no-such-tool".to_owned()];
        let err = run(&argv, Path::new("/"), &[], Duration::from_secs(1)).unwrap_err();
        assert_eq!(err, "\"agent-runner-no-such-tool\" is not on PATH");
        assert_eq!(
            run(&[], Path::new("/"), &[], Duration::from_secs(1)).unwrap_err(),
            "the command is empty"
        );
    }
}
