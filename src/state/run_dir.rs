//! [`RunDir`]: the handle on one run's directory (`state.json`, `audit.jsonl`, `lock`, `output/`).
//!
//! The runtime gets one from [`super::ProjectDir::create_run`] or
//! [`super::ProjectDir::open_run`] and uses it for everything it persists. All I/O is synchronous
//! std::fs; only the run's writer calls these methods, never an executor.

use std::path::{Path, PathBuf};

use super::audit::AuditWriter;
use super::document::StateDoc;
use super::error::StateError;
use super::fs_util::{Staged, create_private_dir_all, remove_stale_temps};
use super::journal::{self, Journal};
use super::lock::{self, LockInfo, LockTakeover, RunLock};
use super::output_name::output_file_name;
use super::redact::Redactor;
use super::snapshot::SnapshotStamp;
use super::state_file::{self, STATE_FILE};

/// The audit log's file name inside a run dir.
pub const AUDIT_FILE: &str = "audit.jsonl";
/// The lock file's name inside a run dir.
pub const LOCK_FILE: &str = "lock";
/// The output subdirectory's name inside a run dir.
pub const OUTPUT_DIR: &str = "output";

/// One run's directory, located (redirect stubs already followed) but not necessarily locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    run_id: String,
    dir: PathBuf,
}

impl RunDir {
    /// A handle on an existing run dir at `dir`. Nothing is checked or created.
    pub fn at(dir: impl Into<PathBuf>, run_id: impl Into<String>) -> Self {
        RunDir {
            run_id: run_id.into(),
            dir: dir.into(),
        }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.run_id
    }

    /// The run dir itself (the real one, after following any redirect).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `<run dir>/state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// `<run dir>/audit.jsonl`.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.join(AUDIT_FILE)
    }

    /// `<run dir>/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// `<run dir>/output`.
    pub fn output_dir(&self) -> PathBuf {
        self.dir.join(OUTPUT_DIR)
    }

    /// The output file of a step: its path and the run-dir-relative name for `step_end`'s
    /// `outputs` (`output/0031-implement-1.work.fix.txt`). `seq` is the step's `step_start` seq.
    pub fn output_file(&self, seq: u64, step_path: &str, ext: &str) -> (PathBuf, String) {
        let name = output_file_name(seq, step_path, ext);
        (
            self.output_dir().join(&name),
            format!("{OUTPUT_DIR}/{name}"),
        )
    }

    /// The run's state: the journal's last record when it has one (the run is going on, or
    /// crashed), else state.json. A newer or unreadable file is reported and left untouched.
    pub fn read_state(&self) -> Result<StateDoc, StateError> {
        match journal::latest(&self.dir, &self.run_id)? {
            Some(doc) => Ok(doc),
            None => state_file::read_state(&self.dir, &self.run_id),
        }
    }

    /// Makes `doc` the state of a run that no process runs: replaces state.json atomically and,
    /// when the run has a journal with records (which readers prefer), appends `doc` to it too.
    /// The caller sets `updated_at` ([`StateDoc::touch`]).
    pub fn write_state(&self, doc: &StateDoc) -> Result<(), StateError> {
        state_file::write_state(&self.dir, doc)?;
        if journal::has_records(&self.dir) {
            journal::append_stamped(&self.dir, doc)?;
        }
        Ok(())
    }

    /// Writes `doc` as state.json, atomically and durably, and starts an empty journal
    /// ([`journal::compact`]). `doc` must be at least as new as the journal's last record.
    pub fn compact(&self, doc: &mut StateDoc) -> Result<(), StateError> {
        journal::compact(&self.dir, doc, true)
    }

    /// Starts the journal of a locked run. When `doc` is the run's saved position (`current`:
    /// a plain resume) and that is on disk as it should be, nothing is written: a journal that
    /// ended cleanly (the run failed or was interrupted) goes on, and without a journal record
    /// state.json is current ([`journal::restart`]). Otherwise (a new run, `--from`, a resume
    /// after a crash) `doc` is compacted into state.json, with an empty journal, first.
    /// Returns whether the journal's first flush owes a dir fsync (pass it to
    /// [`RunDir::open_journal`]).
    pub fn begin_journal(&self, doc: &mut StateDoc, current: bool) -> Result<bool, StateError> {
        if current {
            if !journal::has_records(&self.dir) && self.state_path().exists() {
                journal::restart(doc);
                return Ok(true);
            }
            if journal::ended_cleanly(&self.dir, &self.run_id)? {
                return Ok(false);
            }
        }
        journal::compact(&self.dir, doc, true).map(|()| false)
    }

    /// The run's end, in two halves so that the first can overlap the journal's last flush:
    /// this one writes the final `doc` to state.json's temp file and flushes it.
    pub(crate) fn stage_close(&self, doc: &mut StateDoc) -> Result<Staged, StateError> {
        journal::stage_snapshot(&self.dir, doc)
    }

    /// The second half of the run's end ([`RunDir::stage_close`]): once the journal's last
    /// record (`doc`) is on disk, puts the staged state.json in place, durably, and for a completed run deletes
    /// the journal and loop lists. For any other run, returns the stamp of the new state.json,
    /// with which the final state must be appended again (and flushed) for a resume to go on
    /// from the journal.
    pub(crate) fn finish_close(
        &self,
        staged: Staged,
        doc: &StateDoc,
    ) -> Result<Option<SnapshotStamp>, StateError> {
        let finished = journal::finished(doc);
        journal::close(&self.dir, staged, finished)?;
        if finished {
            return Ok(None);
        }
        journal::stamp_of_state(&self.dir).map(Some)
    }

    /// Opens the run's journal for appending; its syncer flushes `audit`'s log with it, and with
    /// `sync_dir` (what [`RunDir::begin_journal`] returned) fsyncs the run dir on its first flush.
    pub fn open_journal(&self, audit: &AuditWriter, sync_dir: bool) -> Result<Journal, StateError> {
        Journal::open(&self.dir, audit.file_clone()?, sync_dir)
    }

    /// Deletes the `.state.json.<pid>.tmp` files a crashed writer left behind. Call only while
    /// holding the run lock.
    pub fn remove_stale_temps(&self) -> Result<(), StateError> {
        remove_stale_temps(&self.dir, STATE_FILE)
            .map(drop)
            .map_err(|e| StateError::io("clean up", &self.dir, e))
    }

    /// Creates `output/` (0700) if it is missing and returns its path.
    pub fn create_output_dir(&self) -> Result<PathBuf, StateError> {
        let dir = self.output_dir();
        create_private_dir_all(&dir).map_err(|e| StateError::io("create", &dir, e))?;
        Ok(dir)
    }

    /// Takes the run lock (runs-and-state.md §6), then deletes stale state temp files. Keep the
    /// returned lock for the whole run and [`RunLock::release`] it at the end; a takeover must be
    /// logged as `lock_takeover`.
    pub fn lock(&self) -> Result<(RunLock, Option<LockTakeover>), StateError> {
        let (lock, takeover) = RunLock::acquire(&self.lock_path(), &self.run_id)?;
        self.remove_stale_temps()?;
        Ok((lock, takeover))
    }

    /// Opens audit.jsonl for appending; `seq` continues after the last event in it.
    pub fn open_audit(&self, redactor: Redactor) -> Result<AuditWriter, StateError> {
        AuditWriter::open(&self.audit_path(), &self.run_id, redactor)
    }

    /// The owner of the lock if a live process holds it, without taking it.
    pub fn probe_lock(&self) -> Option<LockInfo> {
        lock::probe(&self.lock_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::document::WorkflowRef;
    use std::fs;

    #[test]
    fn lock_removes_stale_temps_and_state_survives() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::at(dir.path(), "r-1");
        let doc = StateDoc::new("r-1", "/p", WorkflowRef::default());
        run.write_state(&doc).unwrap();
        fs::write(dir.path().join(".state.json.77.tmp"), b"{").unwrap();
        let (lock, takeover) = run.lock().unwrap();
        assert!(takeover.is_none());
        assert!(!dir.path().join(".state.json.77.tmp").exists());
        assert_eq!(run.probe_lock().as_ref(), Some(lock.info()));
        assert_eq!(run.read_state().unwrap(), doc);
        assert!(matches!(run.lock(), Err(StateError::LockHeld { .. })));
        lock.release().unwrap();
        assert_eq!(run.probe_lock(), None);
    }

    #[test]
    fn output_file_paths() {
        let run = RunDir::at("/s/runs/r-1", "r-1");
        let (path, rel) = run.output_file(31, "implement[1]/fix", "txt");
        assert_eq!(
            path,
            Path::new("/s/runs/r-1/output/0031-implement-1.fix.txt")
        );
        assert_eq!(rel, "output/0031-implement-1.fix.txt");
    }
}
