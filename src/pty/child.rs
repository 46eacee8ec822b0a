//! The child in the pseudo-terminal: how it ended, and how it is stopped (interactive.md §7, §8).
//!
//! portable-pty spawns the child as the leader of a new session on the PTY slave, so its process
//! group id is its pid and the whole agent (with the tools it started) can be signalled at once.
//! The child is reaped here with `waitpid` rather than through portable-pty, which reports a
//! signal only by its description ("Terminated"); the spec wants the name (`SIGTERM`).

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How often a stopping child is checked on.
const POLL: Duration = Duration::from_millis(20);
/// How long to wait for the kernel to reap a child after SIGKILL.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
    /// Something else reaped it first (ECHILD), or it could not be reaped after SIGKILL.
    Lost,
}

/// A running child, the leader of its own process group.
pub struct PtyChild {
    pid: Pid,
    /// Kept so portable-pty's handle lives as long as the child; never waited on.
    _handle: Box<dyn portable_pty::Child + Send + Sync>,
    /// Lists the child's session with the process watchdog until the child is dropped.
    _watched: crate::exec::process::guard::Watched,
    end: Option<ChildEnd>,
}

impl PtyChild {
    /// Takes over a child spawned by portable-pty, announced to the process guard by
    /// `spawning`.
    pub fn new(
        handle: Box<dyn portable_pty::Child + Send + Sync>,
        spawning: crate::exec::process::guard::Spawning,
    ) -> Option<Self> {
        let raw = handle.process_id()?;
        let pid = i32::try_from(raw).ok()?;
        Some(Self {
            pid: Pid::from_raw(pid),
            _handle: handle,
            _watched: spawning.started(Some(raw)),
            end: None,
        })
    }

    /// How the child ended, if it has; reaps it without blocking.
    pub fn try_end(&mut self) -> Option<ChildEnd> {
        if self.end.is_none() {
            self.end = match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(ChildEnd::Exited(code)),
                Ok(WaitStatus::Signaled(_, signal, _)) => Some(ChildEnd::Signaled(signal)),
                Ok(_) | Err(Errno::EINTR) => None,
                Err(_) => Some(ChildEnd::Lost),
            };
        }
        self.end
    }

    /// Stops the child's process group: SIGTERM, up to `grace` to exit, then SIGKILL. `hurry`
    /// is polled meanwhile; when it says so (a second interruption), SIGKILL goes out at once.
    pub fn stop(&mut self, grace: Duration, hurry: impl Fn() -> bool) -> ChildEnd {
        if let Some(end) = self.try_end() {
            return end;
        }
        self.signal_group(Signal::SIGTERM);
        if let Some(end) = self.wait_until(Instant::now() + grace, &hurry) {
            return end;
        }
        self.signal_group(Signal::SIGKILL);
        self.wait_until(Instant::now() + AFTER_KILL, &|| false)
            .unwrap_or(ChildEnd::Lost)
    }

    fn wait_until(&mut self, deadline: Instant, hurry: &dyn Fn() -> bool) -> Option<ChildEnd> {
        loop {
            if let Some(end) = self.try_end() {
                return Some(end);
            }
            if hurry() || Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    fn signal_group(&self, signal: Signal) {
        // ESRCH: the group is already gone, which is what we want.
        let _ = killpg(self.pid, signal);
    }
}
