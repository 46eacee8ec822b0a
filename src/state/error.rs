//! Errors of the state subsystem (run dirs, state.json, lock, audit log), each mapping to one exit
//! code of cli.md §8. Messages are lowercase fragments that read well after `agent-runner: error: `.

use std::io;
use std::path::PathBuf;

use crate::exit;

/// Everything that can go wrong while locating, reading or writing a run's files.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A run id given on the command line does not have the shape of a run id.
    #[error("invalid run id \"{0}\"")]
    InvalidRunId(String),

    /// No run with this id exists in the project. The CLI may append a hint (`; to start workflow
    /// "<id>", leave out --resume`).
    #[error("no run \"{0}\" in this project (see \"agent-runner list\")")]
    NoSuchRun(String),

    /// `--run-id` named a run that already exists.
    #[error("run \"{0}\" already exists; resume it with \"agent-runner --resume {0}\"")]
    RunExists(String),

    /// `--resume` without an id found no failed or interrupted run.
    #[error("no failed or interrupted run to resume in this project")]
    NothingToResume,

    /// state.json carries a `format_version` this binary does not know. The file is untouched.
    #[error(
        "run {run_id} was written by a newer agent-runner (state format {version}); upgrade to resume it"
    )]
    NewerFormat { run_id: String, version: u64 },

    /// state.json has no `format_version`: the Go agent-runner wrote it. The file is untouched.
    #[error("run {run} was written by the Go agent-runner; it cannot be resumed by agent-runner")]
    GoRun { run: String },

    /// state.json cannot be read or parsed. The file is untouched and is never overwritten.
    #[error("state of run {run_id} is unreadable ({reason}); the file was left as it is")]
    Unreadable { run_id: String, reason: String },

    /// Writing state.json failed; the run must stop.
    #[error("cannot save run state: {0}")]
    Save(io::Error),

    /// The run lock is held by a live process on this host (or by any process, when the lock
    /// file system has advisory locks).
    #[error(
        "run {run_id} is already in progress (pid {pid} on {host}, started {started_at}); wait for it to finish or stop that process first"
    )]
    LockHeld {
        run_id: String,
        pid: String,
        host: String,
        started_at: String,
    },

    /// The run lock is held, but its file does not (yet) say by whom: the owner has just taken
    /// it, or the file was damaged.
    #[error(
        "run {run_id} is locked by another process that has not recorded who it is ({}); wait for it to finish or stop that process first",
        lock_path.display()
    )]
    LockHeldByUnknown { run_id: String, lock_path: PathBuf },

    /// The lock file names another host, whose processes cannot be checked from here.
    #[error(
        "run {run_id} is already in progress (pid {pid} on {host}, started {started_at}); wait for it to finish or stop that process first; if {host} is gone, delete {}",
        lock_path.display()
    )]
    LockHeldElsewhere {
        run_id: String,
        pid: String,
        host: String,
        started_at: String,
        lock_path: PathBuf,
    },

    /// The lock file could not be opened, locked or written.
    #[error("cannot lock run {run_id}: {source}")]
    Lock { run_id: String, source: io::Error },

    /// Appending to audit.jsonl failed.
    #[error("cannot write audit log: {0}")]
    Audit(io::Error),

    /// A directory or file of the state root could not be created or read.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// Neither `AGENT_RUNNER_HOME` nor a home directory is known.
    #[error("cannot find the state directory: set AGENT_RUNNER_HOME or HOME")]
    NoHome,

    /// A regex of the `redact` configuration key does not compile.
    #[error("invalid redact pattern \"{pattern}\": {reason}")]
    RedactPattern { pattern: String, reason: String },
}

impl StateError {
    /// The process exit code this error ends the program with (cli.md §8).
    pub fn exit_code(&self) -> i32 {
        match self {
            StateError::InvalidRunId(_)
            | StateError::NoSuchRun(_)
            | StateError::RunExists(_)
            | StateError::NothingToResume => exit::USAGE,
            StateError::NewerFormat { .. }
            | StateError::GoRun { .. }
            | StateError::Unreadable { .. }
            | StateError::RedactPattern { .. } => exit::INVALID,
            StateError::Save(_)
            | StateError::LockHeld { .. }
            | StateError::LockHeldByUnknown { .. }
            | StateError::LockHeldElsewhere { .. }
            | StateError::Lock { .. }
            | StateError::Audit(_)
            | StateError::Io { .. }
            | StateError::NoHome => exit::RUNTIME,
        }
    }

    /// Wraps an I/O error with what was being done and to which path.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StateError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
