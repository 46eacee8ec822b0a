//! The process guard: no step process outlives the runner (control.md §9).
//!
//! A run starts one small watchdog, on a helper thread as the run begins ([`start_early`]) or
//! else the first time a step process is started: its own binary again (with
//! [`WATCHDOG_ARG`]), in a process group of its own, reading a pipe from the runner. Around
//! every process the runner starts for a step (shell command, `skip_if: sh:`, headless agent,
//! interactive agent, engine hook) it writes three short lines ([`Spawning`]):
//! `?<n>` before the spawn, `+<pgid> <n>` once the new process group is known, and `-<pgid>`
//! once it has reaped it. The process gets `AGENT_RUNNER_GUARD=<runner pid>.<n>` in its
//! environment, so a runner killed between the spawn and its `+` line leaves nothing behind
//! either: the watchdog finds the spawns still pending by that mark in `/proc/<pid>/environ`.
//! (No code runs in the child between fork and exec, which lets the standard library start
//! processes with `posix_spawn`, without copying the runner's page tables.)
//!
//! When the runner ends in any way, SIGKILL and OOM included, the kernel closes its end of the
//! pipe and the watchdog ([`super::watchdog`]) sees end-of-file and stops what is still listed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The argument that makes the binary run as the watchdog (`agent-runner <WATCHDOG_ARG> <runner
/// pid>`).
pub const WATCHDOG_ARG: &str = "--internal-process-watchdog";

/// The executable to start as the watchdog; unset (no guard) in library tests.
static EXE: OnceLock<PathBuf> = OnceLock::new();
/// The pipe to the watchdog once it runs; `None` when it could not be started.
static PIPE: Mutex<Option<Pipe>> = Mutex::new(None);

struct Pipe {
    stdin: Option<ChildStdin>,
    // Kept so the watchdog is not reaped early; it is never waited for: it outlives the runner.
    _child: Option<Child>,
}

/// Turns the guard on for this process: `exe` is started as the watchdog when the first step
/// process starts. Called by the `agent-runner` binary.
pub fn install(exe: PathBuf) {
    let _ = EXE.set(exe);
}

/// Starts the watchdog now, on a short-lived thread, for a run that is about to start steps: its
/// start (the runner's binary executed again) then overlaps the loading of the workflow and the
/// state instead of delaying the first step. A first announcement made meanwhile waits for it.
pub fn start_early() {
    if EXE.get().is_none() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("watchdog-start".to_owned())
        .spawn(|| with_pipe(|_| {}));
    if let Err(err) = started {
        tracing::debug!(%err, "the watchdog starts with the first step instead");
    }
}

/// A listed process group; dropping it takes the group off the list.
#[derive(Debug)]
pub struct Watched(Option<u32>);

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            send(&format!("-{pgid}\n"));
        }
    }
}

/// The variable that marks a step process as one the runner started (see the module doc).
pub const GUARD_ENV: &str = "AGENT_RUNNER_GUARD";

/// The number of the next spawn.
static NEXT_SPAWN: AtomicU64 = AtomicU64::new(1);

/// A spawn about to happen, announced to the watchdog (`?<n>`). Spawn, then call
/// [`Spawning::started`]; dropped without that (the spawn failed), it takes the announcement
/// back (`!<n>`).
#[derive(Debug)]
pub struct Spawning(Option<u64>);

impl Spawning {
    /// Announces a spawn (starting the watchdog if needed) and calls `mark` with the variable
    /// to set in the process's environment; without a guard (library tests), it does nothing.
    pub fn begin(mark: impl FnOnce(&'static str, String)) -> Spawning {
        if EXE.get().is_none() {
            return Spawning(None);
        }
        let n = NEXT_SPAWN.fetch_add(1, Ordering::Relaxed);
        send(&format!("?{n}\n"));
        mark(GUARD_ENV, format!("{}.{n}", std::process::id()));
        Spawning(Some(n))
    }

    /// The process started as the leader of group `pgid`: lists the group.
    pub fn started(mut self, pgid: Option<u32>) -> Watched {
        // Without a pid, dropping `self` takes the announcement back.
        let (Some(pgid), Some(n)) = (pgid, self.0.take()) else {
            return Watched(None);
        };
        send(&format!("+{pgid} {n}\n"));
        Watched(Some(pgid))
    }
}

impl Drop for Spawning {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            send(&format!("!{n}\n"));
        }
    }
}

fn send(line: &str) {
    with_pipe(|pipe| {
        if let Some(stdin) = pipe.stdin.as_mut()
            && stdin.write_all(line.as_bytes()).is_err()
        {
            pipe.stdin = None;
            tracing::warn!("the process watchdog has gone; step processes may outlive a crash");
        }
    });
}

/// Calls `use_pipe` with the pipe to the watchdog, starting the watchdog first if it is not
/// running yet; does nothing without a guard (library tests).
fn with_pipe(use_pipe: impl FnOnce(&mut Pipe)) {
    let Some(exe) = EXE.get() else {
        return;
    };
    if let Ok(mut pipe) = PIPE.lock() {
        use_pipe(pipe.get_or_insert_with(|| start(exe)));
    }
}

fn start(exe: &PathBuf) -> Pipe {
    let mut command = Command::new(exe);
    command
        .arg(WATCHDOG_ARG)
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    match command.spawn() {
        Ok(mut child) => Pipe {
            stdin: child.stdin.take(),
            _child: Some(child),
        },
        Err(err) => {
            tracing::warn!(%err, "cannot start the process watchdog");
            Pipe {
                stdin: None,
                _child: None,
            }
        }
    }
}
