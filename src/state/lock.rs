//! The run lock (runs-and-state.md §6): one process owns a run at a time.
//!
//! The primary mechanism is an exclusive advisory lock (`File::try_lock`) on `<run dir>/lock`,
//! which the kernel drops when the owner dies, even on SIGKILL. The file's content
//! (`{"pid","host","started_at","pid_start_time"}`) is for messages, for `list` (via [`probe`])
//! and for file systems without advisory locks, where liveness is decided from the pid: same
//! host, `kill(pid, 0)` succeeds (or EPERM), and the process start time still matches so a reused
//! pid is not mistaken for the owner. A dead owner's lock is then taken over ([`LockTakeover`]).

use std::fs::{self, File, TryLockError};
use std::io::{self, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::error::StateError;
use super::fs_util::private_file;
use super::time::now_rfc3339;
use crate::capped;

/// Lock files are tiny; anything bigger is not ours.
const MAX_LOCK_BYTES: u64 = 64 * 1024;
/// How often acquisition retries when the file was unlinked under it by a releasing owner.
const ACQUIRE_ATTEMPTS: usize = 5;
/// How often the owner of a held lock is read while its file is still empty (10 ms apart).
const OWNER_READS: usize = 20;

/// The content of a lock file: who owns the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub started_at: String,
    /// `/proc/<pid>/stat` field 22 (clock ticks after boot) on Linux; `None` where unknown.
    pub pid_start_time: Option<u64>,
}

impl LockInfo {
    /// The content describing the current process, now.
    pub fn current() -> Self {
        let pid = std::process::id();
        LockInfo {
            pid,
            host: this_host(),
            started_at: now_rfc3339(),
            pid_start_time: process_start_time(pid),
        }
    }

    /// Whether the owner described here still runs: another host always counts as live; on
    /// this host the pid must exist and, where known, have the same start time.
    pub fn is_live(&self) -> bool {
        if self.host != this_host() {
            return true;
        }
        let Ok(raw) = i32::try_from(self.pid) else {
            return false;
        };
        if raw <= 0 {
            return false;
        }
        match kill(Pid::from_raw(raw), None) {
            Ok(()) | Err(Errno::EPERM) => {}
            Err(_) => return false,
        }
        match (self.pid_start_time, process_start_time(self.pid)) {
            (Some(recorded), Some(actual)) => recorded == actual,
            _ => true,
        }
    }
}

impl LockInfo {
    /// The pid to signal to stop this owner: only a process on this host whose start time is
    /// recorded and still matches, so a pid reused by another process is never signalled.
    pub fn signal_target(&self) -> Option<u32> {
        let recorded = self.pid_start_time?;
        (self.host == this_host() && process_start_time(self.pid) == Some(recorded))
            .then_some(self.pid)
    }
}

/// A stale lock that was taken over (file systems without advisory locks); the runtime emits
/// the `lock_takeover` audit event with these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockTakeover {
    pub previous_pid: u32,
    pub previous_host: String,
}

/// How acquisition decides who owns the lock. Tests force the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Advisory lock, falling back to pids when the file system has none.
    AdvisoryLock,
    /// Pid liveness only, as on a file system without advisory locks.
    #[cfg(test)]
    PidOnly,
}

/// An owned run lock. Keep it for the whole run; [`RunLock::release`] (or drop) deletes the file
/// and then closes it.
#[derive(Debug)]
pub struct RunLock {
    file: Option<File>,
    path: PathBuf,
    run_id: String,
    info: LockInfo,
}

impl RunLock {
    /// Takes the lock of run `run_id` at `path` (creating the file, 0600) and writes this
    /// process's [`LockInfo`] into it. Returns the takeover of a stale lock, if there was one.
    ///
    /// Errors: [`StateError::LockHeld`] / [`StateError::LockHeldElsewhere`] when a live process
    /// owns it, [`StateError::Lock`] for I/O errors (all exit 4).
    pub fn acquire(
        path: &Path,
        run_id: &str,
    ) -> Result<(RunLock, Option<LockTakeover>), StateError> {
        acquire(path, run_id, Mode::AdvisoryLock)
    }

    /// What this lock's file says.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases the lock: deletes the file, then closes it (so nobody can lock the old file
    /// after we let go and believe they own the run).
    pub fn release(mut self) -> Result<(), StateError> {
        self.unlink_and_close().map_err(|source| StateError::Lock {
            run_id: self.run_id.clone(),
            source,
        })
    }

    fn unlink_and_close(&mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let removed = match fs::remove_file(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        };
        drop(file);
        removed
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; a leftover file with a dead pid is stale anyway.
        let _ = self.unlink_and_close();
    }
}

/// Whether the lock at `path` is held by a live process, without taking it: the owner's
/// [`LockInfo`] if so. Used by `list`/`show` for the `running` status. A missing, empty or
/// unreadable lock file, or one whose owner is gone, is not held.
pub fn probe(path: &Path) -> Option<LockInfo> {
    read_info(path).filter(LockInfo::is_live)
}

fn acquire(
    path: &Path,
    run_id: &str,
    mode: Mode,
) -> Result<(RunLock, Option<LockTakeover>), StateError> {
    let io_error = |source: io::Error| StateError::Lock {
        run_id: run_id.to_string(),
        source,
    };
    for _ in 0..ACQUIRE_ATTEMPTS {
        let file = private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        let locked = match mode {
            Mode::AdvisoryLock => file.try_lock(),
            #[cfg(test)]
            Mode::PidOnly => Err(TryLockError::Error(io::Error::from(
                io::ErrorKind::Unsupported,
            ))),
        };
        match locked {
            Ok(()) => {
                // A releasing owner unlinks before closing: if we locked an unlinked file,
                // someone may lock a new one at `path`, so start over.
                if !names_same_file(&file, path) {
                    continue;
                }
                return Ok((own(file, path, run_id, false).map_err(io_error)?, None));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(held_error(run_id, path, read_owner(path)));
            }
            Err(TryLockError::Error(e)) if has_no_advisory_locks(&e) => {
                let previous = read_info(path);
                if let Some(info) = previous.as_ref().filter(|info| info.is_live()) {
                    return Err(held_error(run_id, path, Some(info.clone())));
                }
                let takeover = previous.map(|info| LockTakeover {
                    previous_pid: info.pid,
                    previous_host: info.host,
                });
                return Ok((own(file, path, run_id, true).map_err(io_error)?, takeover));
            }
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
    }
    Err(io_error(io::Error::other(
        "the lock file kept being replaced while locking it",
    )))
}

/// Writes this process's info into the locked file and wraps it. With `durable` (no advisory
/// lock: the pid in the file is the lock) the info is flushed to disk; under an advisory lock
/// the kernel's lock is what protects the run, the info only names its owner to others on
/// this host, who read it from the page cache, so the flush would only cost time.
fn own(mut file: File, path: &Path, run_id: &str, durable: bool) -> io::Result<RunLock> {
    let info = LockInfo::current();
    let mut bytes = serde_json::to_vec(&info).map_err(io::Error::other)?;
    bytes.push(b'\n');
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(&bytes)?;
    if durable {
        file.sync_data()?;
    }
    Ok(RunLock {
        file: Some(file),
        path: path.to_path_buf(),
        run_id: run_id.to_string(),
        info,
    })
}

fn held_error(run_id: &str, path: &Path, info: Option<LockInfo>) -> StateError {
    let Some(info) = info else {
        return StateError::LockHeldByUnknown {
            run_id: run_id.to_string(),
            lock_path: path.to_path_buf(),
        };
    };
    let (pid, host, started_at) = (info.pid.to_string(), info.host, info.started_at);
    if host != this_host() && host != "unknown" {
        StateError::LockHeldElsewhere {
            run_id: run_id.to_string(),
            pid,
            host,
            started_at,
            lock_path: path.to_path_buf(),
        }
    } else {
        StateError::LockHeld {
            run_id: run_id.to_string(),
            pid,
            host,
            started_at,
        }
    }
}

/// The owner of a held lock. An owner writes its info right after locking, so an empty file is
/// read again a few times before it counts as unknown.
fn read_owner(path: &Path) -> Option<LockInfo> {
    for _ in 0..OWNER_READS {
        if let Some(info) = read_info(path) {
            return Some(info);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    read_info(path)
}

fn read_info(path: &Path) -> Option<LockInfo> {
    let bytes = capped::read(path, MAX_LOCK_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn names_same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn has_no_advisory_locks(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported
        || matches!(
            e.raw_os_error(),
            Some(code) if code == Errno::ENOLCK as i32 || code == Errno::EOPNOTSUPP as i32
        )
}

/// This machine's host name, `unknown` if it cannot be read.
fn this_host() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The start time of process `pid`: `/proc/<pid>/stat` field 22 on Linux, `None` elsewhere or if
/// the process is gone.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces and ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 on; field 22 is the 20th of them.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid that no process has (above Linux's maximum pid_max of 2^22).
    const DEAD_PID: u32 = 2_147_483_000;

    fn write_info(path: &Path, info: &LockInfo) {
        fs::write(path, serde_json::to_vec(info).unwrap()).unwrap();
    }

    #[test]
    fn second_acquire_is_refused_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let (lock, takeover) = RunLock::acquire(&path, "r").unwrap();
        assert!(takeover.is_none());
        assert_eq!(lock.info().pid, std::process::id());
        let on_disk: LockInfo = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(&on_disk, lock.info());

        let err = RunLock::acquire(&path, "r").unwrap_err();
        let expected = format!(
            "run r is already in progress (pid {} on {}, started {}); wait for it to finish or stop that process first",
            on_disk.pid, on_disk.host, on_disk.started_at
        );
        assert_eq!(err.to_string(), expected);
        assert_eq!(err.exit_code(), crate::exit::RUNTIME);

        lock.release().unwrap();
        assert!(!path.exists());
        let (again, _) = RunLock::acquire(&path, "r").unwrap();
        drop(again);
        assert!(!path.exists());
    }

    #[test]
    fn leftover_file_of_a_crashed_owner_is_simply_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut info = LockInfo::current();
        info.pid = DEAD_PID;
        write_info(&path, &info);
        let (lock, takeover) = RunLock::acquire(&path, "r").unwrap();
        assert!(takeover.is_none());
        assert_eq!(lock.info().pid, std::process::id());
    }

    #[test]
    fn stale_lock_of_a_dead_pid_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut info = LockInfo::current();
        info.pid = DEAD_PID;
        write_info(&path, &info);
        let (lock, takeover) = acquire(&path, "r", Mode::PidOnly).unwrap();
        assert_eq!(
            takeover,
            Some(LockTakeover {
                previous_pid: DEAD_PID,
                previous_host: info.host
            })
        );
        assert_eq!(probe(&path).as_ref(), Some(lock.info()));
    }

    #[test]
    fn reused_pid_is_not_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut info = LockInfo::current();
        let Some(start) = info.pid_start_time else {
            return; // No /proc: start times are unknown here.
        };
        info.pid_start_time = Some(start + 1);
        write_info(&path, &info);
        let (_lock, takeover) = acquire(&path, "r", Mode::PidOnly).unwrap();
        assert!(takeover.is_some());
    }

    #[test]
    fn live_pid_without_advisory_locks_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        write_info(&path, &LockInfo::current());
        let err = acquire(&path, "r", Mode::PidOnly).unwrap_err();
        assert!(matches!(err, StateError::LockHeld { .. }), "{err}");
    }

    #[test]
    fn other_host_counts_as_live_and_says_how_to_clear_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut info = LockInfo::current();
        info.host = format!("{}-elsewhere", info.host);
        info.pid = DEAD_PID;
        write_info(&path, &info);
        let err = acquire(&path, "r", Mode::PidOnly).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StateError::LockHeldElsewhere { .. }));
        assert!(
            text.ends_with(&format!(
                "if {} is gone, delete {}",
                info.host,
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn probe_sees_only_live_owners() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        assert_eq!(probe(&path), None);
        fs::write(&path, b"\x00garbage").unwrap();
        assert_eq!(probe(&path), None);
        let mut info = LockInfo::current();
        info.pid = DEAD_PID;
        write_info(&path, &info);
        assert_eq!(probe(&path), None);
        fs::remove_file(&path).unwrap();
        let (lock, _) = RunLock::acquire(&path, "r").unwrap();
        assert_eq!(probe(&path).as_ref(), Some(lock.info()));
    }

    #[test]
    fn start_time_of_this_process() {
        if Path::new("/proc/self/stat").exists() {
            assert!(process_start_time(std::process::id()).is_some());
        }
        assert_eq!(process_start_time(DEAD_PID), None);
    }
}
