//! `POST /api/runs/<id>/stop` (run-view.md §2): SIGINT to the process in the run's lock, as
//! Ctrl-C would send it (the run saves its state and exits 130). The pid is signalled only when
//! the lock names a live process on this host whose start time matches the one recorded, so a
//! pid the system has given to another process is never signalled.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::state::RunEntry;

/// What a stop request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// SIGINT was sent to this pid.
    Signalled(u32),
    /// The run is not running (no live lock owner).
    NotRunning,
    /// The lock's owner cannot be verified (another host, no recorded start time) or signalled.
    Refused(String),
}

/// Sends SIGINT to the run's verified owner.
pub fn stop(entry: &RunEntry) -> Stopped {
    let Some(holder) = entry.run.probe_lock() else {
        return Stopped::NotRunning;
    };
    let Some(pid) = holder.signal_target() else {
        return Stopped::Refused(format!(
            "the process in the run's lock (pid {} on {}) cannot be verified; stop it where it runs",
            holder.pid, holder.host
        ));
    };
    let Ok(raw) = i32::try_from(pid) else {
        return Stopped::Refused(format!("pid {pid} is out of range"));
    };
    match kill(Pid::from_raw(raw), Signal::SIGINT) {
        Ok(()) => Stopped::Signalled(pid),
        Err(err) => Stopped::Refused(format!("cannot signal pid {pid}: {err}")),
    }
}
