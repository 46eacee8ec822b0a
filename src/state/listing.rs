//! Run listing for `list`, `show` and `--resume`: the runs of a project (redirect stubs
//! followed), each with its state and its effective status, newest first.
//!
//! The effective status is what users see: `running` only while a live process holds the lock;
//! a stored `running` without one is a crash and shows as `interrupted`. Listing never writes:
//! an unreadable state.json is reported in its entry and left as it is.

use std::fs;
use std::time::SystemTime;

use super::document::{RunStatus, StateDoc};
use super::error::StateError;
use super::fs_util::subdirs;
use super::lock::LockInfo;
use super::paths::{ProjectDir, StateRoot, resolve_run_dir};
use super::run_dir::RunDir;
use super::run_id::validate_run_id;
use super::time::{parse_rfc3339_millis, unix_millis};

/// One run as `list`/`show` see it.
#[derive(Debug)]
pub struct RunEntry {
    /// The run's directory (the real one, redirects followed).
    pub run: RunDir,
    /// The parsed state.json, or why it cannot be read (newer format, corrupt, missing).
    pub state: Result<StateDoc, StateError>,
    /// The status to show; `None` when the state is unreadable and no live process holds the
    /// lock.
    pub status: Option<RunStatus>,
    /// The live owner of the lock, if any (`locked_by_pid` in `list --json`).
    pub lock_holder: Option<LockInfo>,
    /// Milliseconds since the epoch used to order runs: `created_at`, else the dir's mtime.
    sort_key: i64,
}

impl RunEntry {
    /// Reads the run at `run` and works out its status.
    pub fn load(run: RunDir) -> Self {
        let state = run.read_state();
        let lock_holder = run.probe_lock();
        let stored = state.as_ref().ok().map(|doc| doc.status);
        let status = match (&lock_holder, stored) {
            (Some(_), _) => Some(RunStatus::Running),
            (None, Some(RunStatus::Running)) => Some(RunStatus::Interrupted),
            (None, stored) => stored,
        };
        let sort_key = state
            .as_ref()
            .ok()
            .and_then(|doc| parse_rfc3339_millis(&doc.created_at))
            .unwrap_or_else(|| dir_mtime_millis(&run));
        RunEntry {
            run,
            state,
            status,
            lock_holder,
            sort_key,
        }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        self.run.id()
    }

    /// Whether `--resume` without an id may pick this run (failed or interrupted).
    pub fn is_resumable(&self) -> bool {
        matches!(
            self.status,
            Some(RunStatus::Failed | RunStatus::Interrupted)
        )
    }

    fn updated_millis(&self) -> i64 {
        self.state
            .as_ref()
            .ok()
            .and_then(|doc| parse_rfc3339_millis(&doc.updated_at))
            .unwrap_or(self.sort_key)
    }
}

fn dir_mtime_millis(run: &RunDir) -> i64 {
    fs::metadata(run.path())
        .and_then(|m| m.modified())
        .map_or(0, |t: SystemTime| unix_millis(t))
}

impl ProjectDir {
    /// Every run of the project, newest first (by `created_at`). Entries of `runs/` that are
    /// not run ids are ignored; a broken redirect stub is an entry with an unreadable state.
    pub fn list_runs(&self) -> Result<Vec<RunEntry>, StateError> {
        let runs_dir = self.runs_dir();
        let dirs = subdirs(&runs_dir).map_err(|e| StateError::io("read", &runs_dir, e))?;
        let mut runs = Vec::new();
        for (run_id, path) in dirs {
            if validate_run_id(&run_id).is_err() {
                continue;
            }
            runs.push(match resolve_run_dir(path.clone(), &run_id) {
                Ok(run) => RunEntry::load(run),
                Err(e) => RunEntry {
                    run: RunDir::at(path, &run_id),
                    state: Err(e),
                    status: None,
                    lock_holder: None,
                    sort_key: 0,
                },
            });
        }
        runs.sort_by(|a, b| b.sort_key.cmp(&a.sort_key).then_with(|| b.id().cmp(a.id())));
        Ok(runs)
    }

    /// The run with this id. Errors: `invalid run id "<id>"`, `no run "<id>" in this project`.
    pub fn find_run(&self, run_id: &str) -> Result<RunEntry, StateError> {
        self.open_run(run_id).map(RunEntry::load)
    }

    /// The newest run of the project (the default of `show` and `log`), if there is any.
    pub fn latest_run(&self) -> Result<Option<RunEntry>, StateError> {
        Ok(self.list_runs()?.into_iter().next())
    }

    /// The most recently updated run whose status is failed or interrupted (`--resume` without
    /// an id). Error: `no failed or interrupted run to resume in this project`.
    pub fn newest_resumable(&self) -> Result<RunEntry, StateError> {
        self.list_runs()?
            .into_iter()
            .filter(RunEntry::is_resumable)
            .max_by_key(|entry| entry.updated_millis())
            .ok_or(StateError::NothingToResume)
    }
}

/// The runs of one project, for `list --all`.
#[derive(Debug)]
pub struct ProjectRuns {
    pub project: ProjectDir,
    pub runs: Vec<RunEntry>,
}

impl StateRoot {
    /// The runs of every project, projects sorted by key and runs newest first.
    pub fn list_all_runs(&self) -> Result<Vec<ProjectRuns>, StateError> {
        self.projects()?
            .into_iter()
            .map(|project| {
                let runs = project.list_runs()?;
                Ok(ProjectRuns { project, runs })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::document::WorkflowRef;
    use crate::state::lock::LockInfo;

    struct Fixture {
        _tmp: tempfile::TempDir,
        root: StateRoot,
        project: ProjectDir,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let work = tmp.path().join("work");
        fs::create_dir(&work).unwrap();
        let project = root.project(&work).unwrap();
        Fixture {
            _tmp: tmp,
            root,
            project,
        }
    }

    /// A run with `status`, created and updated on those days of January 2026.
    fn add_run(project: &ProjectDir, status: RunStatus, created: u32, updated: u32) -> RunDir {
        let run = project.create_run("w", None).unwrap();
        let mut doc = StateDoc::new(run.id(), "/p", WorkflowRef::default());
        doc.status = status;
        doc.created_at = format!("2026-01-{created:02}T00:00:00.000Z");
        doc.updated_at = format!("2026-01-{updated:02}T00:00:00.000Z");
        run.write_state(&doc).unwrap();
        run
    }

    #[test]
    fn lists_newest_first_with_effective_status() {
        let f = fixture();
        let old = add_run(&f.project, RunStatus::Failed, 1, 3);
        let crashed = add_run(&f.project, RunStatus::Running, 2, 2);
        let live = add_run(&f.project, RunStatus::Running, 4, 4);
        let done = add_run(&f.project, RunStatus::Completed, 5, 5);
        let (lock, _) = live.lock().unwrap();

        let runs = f.project.list_runs().unwrap();
        let ids: Vec<&str> = runs.iter().map(RunEntry::id).collect();
        assert_eq!(ids, [done.id(), live.id(), crashed.id(), old.id()]);
        let statuses: Vec<_> = runs.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                Some(RunStatus::Completed),
                Some(RunStatus::Running),
                Some(RunStatus::Interrupted),
                Some(RunStatus::Failed)
            ]
        );
        assert_eq!(runs[1].lock_holder.as_ref(), Some(lock.info()));

        // Most recently *updated* resumable run: `old` was updated after `crashed`.
        assert_eq!(f.project.newest_resumable().unwrap().id(), old.id());
        assert_eq!(f.project.latest_run().unwrap().unwrap().id(), done.id());
        assert_eq!(
            f.project.find_run(crashed.id()).unwrap().status,
            Some(RunStatus::Interrupted)
        );

        let all = f.root.list_all_runs().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].runs.len(), 4);
    }

    #[test]
    fn stale_lock_file_does_not_count_as_running() {
        let f = fixture();
        let run = add_run(&f.project, RunStatus::Running, 1, 1);
        let mut info = LockInfo::current();
        info.pid = 2_147_483_000;
        fs::write(run.lock_path(), serde_json::to_vec(&info).unwrap()).unwrap();
        let entry = f.project.find_run(run.id()).unwrap();
        assert_eq!(entry.status, Some(RunStatus::Interrupted));
        assert!(entry.lock_holder.is_none());
    }

    #[test]
    fn unreadable_runs_are_listed_and_untouched() {
        let f = fixture();
        let run = add_run(&f.project, RunStatus::Failed, 1, 1);
        fs::write(run.state_path(), b"{\"format_version\": 1, \"run_").unwrap();
        fs::create_dir(f.project.runs_dir().join(".not-a-run")).unwrap();
        let runs = f.project.list_runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert!(matches!(runs[0].state, Err(StateError::Unreadable { .. })));
        assert_eq!(runs[0].status, None);
        assert!(!runs[0].is_resumable());
        assert_eq!(
            fs::read(run.state_path()).unwrap(),
            b"{\"format_version\": 1, \"run_"
        );
        assert!(matches!(
            f.project.newest_resumable(),
            Err(StateError::NothingToResume)
        ));
    }

    #[test]
    fn relocated_runs_are_found_through_their_stub() {
        let f = fixture();
        let target = f.project.project_path().unwrap().to_path_buf();
        let run = f.project.create_run("w", Some(&target)).unwrap();
        let doc = StateDoc::new(run.id(), "/p", WorkflowRef::default());
        run.write_state(&doc).unwrap();
        let runs = f.project.list_runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].run.path(), run.path());
        assert_eq!(runs[0].state.as_ref().unwrap(), &doc);
    }

    #[test]
    fn unknown_ids() {
        let f = fixture();
        let err = f.project.find_run("nope-1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no run \"nope-1\" in this project (see \"agent-runner list\")"
        );
        assert_eq!(err.exit_code(), crate::exit::USAGE);
        assert!(f.project.list_runs().unwrap().is_empty());
        assert!(f.project.latest_run().unwrap().is_none());
    }
}
