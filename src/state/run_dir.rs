//! [`RunDir`]: the handle on one run's directory (`state.json`, `audit.jsonl`, `lock`, `output/`).
//!
//! The runtime gets one from [`super::ProjectDir::create_run`] or
//! [`super::ProjectDir::open_run`] and uses it for everything it persists. All I/O is synchronous
//! std::fs; only the run's writer calls these methods, never an executor.

use std::io;
use std::path::{Path, PathBuf};

use super::audit::AuditWriter;
use super::document::StateDoc;
use super::error::StateError;
use super::fs_util::{Staged, create_private_dir_all, remove_stale_temps, stage, sync_dir};
use super::lock::{self, LockInfo, LockTakeover, RunLock};
use super::output_name::output_file_name;
use super::redact::Redactor;
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

    /// Reads and checks state.json. A newer or unreadable file is reported and left untouched.
    pub fn read_state(&self) -> Result<StateDoc, StateError> {
        state_file::read_state(&self.dir, &self.run_id)
    }

    /// Replaces state.json atomically with `doc`. The caller sets `updated_at`
    /// ([`StateDoc::touch`]); an error here must stop the run (exit 4).
    pub fn write_state(&self, doc: &StateDoc) -> Result<(), StateError> {
        state_file::write_state(&self.dir, doc)
    }

    /// Replaces state.json atomically with `doc` (runs-and-state.md §4), then writes the audit
    /// events held back for this state and makes the log's durable events durable: temp file
    /// written and `sync_all`ed, renamed over state.json, held events written, and the dir fsync
    /// run alongside the log's `sync_data` (on a second thread), so one journal commit can
    /// serve both. The held events go out only once the state they follow is in place; the
    /// call returns only when the state and the log are both on disk.
    pub fn write_state_and_sync(
        &self,
        doc: &StateDoc,
        audit: &mut AuditWriter,
    ) -> Result<(), StateError> {
        let bytes = state_file::encode_state(doc)?;
        stage(&self.dir, STATE_FILE, &bytes)
            .and_then(Staged::rename)
            .map_err(StateError::Save)?;
        audit.release()?;
        let (dir_synced, log_synced) = std::thread::scope(|scope| {
            let log = audit
                .unsynced_file()
                .map(|file| scope.spawn(move || file.sync_data()));
            let dir = sync_dir(&self.dir);
            let log = log.map_or(Ok(()), |thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the audit sync thread panicked")))
            });
            (dir, log)
        });
        dir_synced.map_err(StateError::Save)?;
        log_synced.map_err(StateError::Audit)?;
        audit.mark_synced();
        Ok(())
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
    fn state_write_releases_and_syncs_held_events() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::at(dir.path(), "r-1");
        let mut audit = run
            .open_audit(Redactor::token_shapes_only().unwrap())
            .unwrap();
        let mut doc = StateDoc::new("r-1", "/p", WorkflowRef::default());
        run.write_state_and_sync(&doc, &mut audit).unwrap();
        audit.hold();
        audit
            .append(
                super::super::AuditEvent::StepEnd,
                "a",
                serde_json::json!({}),
            )
            .unwrap();
        assert_eq!(fs::read_to_string(run.audit_path()).unwrap(), "");
        doc.status = super::super::RunStatus::Completed;
        run.write_state_and_sync(&doc, &mut audit).unwrap();
        assert_eq!(run.read_state().unwrap(), doc);
        let text = fs::read_to_string(run.audit_path()).unwrap();
        assert!(text.contains("\"event\":\"step_end\""), "{text}");
        assert!(audit.unsynced_file().is_none());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
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
