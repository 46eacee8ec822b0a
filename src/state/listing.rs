//! Run listing for `list`, `show` and `--resume`: the runs of a project (redirect stubs
//! followed), each with its state and its effective status, newest first.
//!
//! The effective status is what users see: `running` only while a live process holds the lock;
//! a stored `running` without one is a crash and shows as `interrupted`. Listing never writes:
//! an unreadable state.json is reported in its entry and left as it is.

use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use super::document::{RunStatus, StateDoc};
use super::error::StateError;
use super::fs_util::{subdir_entries, subdirs};
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
        let runs = dirs
            .into_iter()
            .filter(|(run_id, _)| validate_run_id(run_id).is_ok())
            .map(|(run_id, path)| load_entry(run_id, path))
            .collect();
        Ok(sorted(runs))
    }

    /// The newest `limit` runs of the project (0: all), newest first, reading the state of only
    /// those: which runs are newest comes from the directories alone (the time in the run id,
    /// then the directory's creation time), so a listing costs the same however many runs there are.
    pub fn list_newest_runs(&self, limit: usize) -> Result<Vec<RunEntry>, StateError> {
        if limit == 0 {
            return self.list_runs();
        }
        let names = self.run_names()?.into_iter().map(|name| (name, ()));
        let runs = newest(names.collect(), limit)
            .into_iter()
            .map(|(name, ())| load_entry(name.id, name.path))
            .collect();
        let mut runs = sorted(runs);
        runs.truncate(limit);
        Ok(runs)
    }

    /// The run directories of `runs/` named by a valid run id, unread. A directory is looked at
    /// (`stat`) only when its id does not say when it was created.
    fn run_names(&self) -> Result<Vec<RunName>, StateError> {
        let runs_dir = self.runs_dir();
        let dirs = subdir_entries(&runs_dir).map_err(|e| StateError::io("read", &runs_dir, e))?;
        Ok(dirs
            .into_iter()
            .filter(|(run_id, _, _)| validate_run_id(run_id).is_ok())
            .map(|(id, path, entry)| RunName::new(id, path, entry))
            .collect())
    }
}

/// A run directory before its state is read, with when it was created.
struct RunName {
    key: (i64, u128),
    /// `key` holds the directory's creation time (not only the second in the id).
    timed: bool,
    id: String,
    path: PathBuf,
    /// Its entry in `runs/`, whose `stat` is made relative to the open directory.
    entry: fs::DirEntry,
}

impl RunName {
    fn new(id: String, path: PathBuf, entry: fs::DirEntry) -> Self {
        let mut name = RunName {
            key: (0, 0),
            timed: false,
            id,
            path,
            entry,
        };
        match id_seconds(&name.id) {
            Some(seconds) => name.key = (seconds, 0),
            None => name.time(),
        }
        name
    }

    /// Reads the directory's creation time into `key` (once). A directory is looked at through
    /// its entry (no walk of the whole path); a symbolic link through the path, so that the
    /// directory it leads to counts.
    fn time(&mut self) {
        if !self.timed {
            let symlink = self
                .entry
                .file_type()
                .map_or(true, |kind| kind.is_symlink());
            let metadata = if symlink {
                fs::metadata(&self.path)
            } else {
                self.entry.metadata()
            };
            let created = metadata
                .and_then(|m| m.created().or_else(|_| m.modified()))
                .ok();
            self.key = creation_key(&self.id, created);
            self.timed = true;
        }
    }
}

/// The `limit` newest of `items` by their [`RunName`] key, newest first, and every other item
/// whose key ties with the last of them: directories created within one clock tick cannot be
/// told apart, so their states decide (callers sort by `created_at` and cut to `limit`). The
/// second in the ids orders them first; only the runs of the seconds that make the cut have
/// their directory's creation time read.
fn newest<T>(items: Vec<(RunName, T)>, limit: usize) -> Vec<(RunName, T)> {
    let mut items = cut(items, limit, |name| name.key.0);
    for (name, _) in &mut items {
        name.time();
    }
    cut(items, limit, |name| name.key)
}

/// `items` sorted by `key`, greatest first, down to the `limit`-th and every item that ties
/// with it.
fn cut<T, K: Ord>(
    mut items: Vec<(RunName, T)>,
    limit: usize,
    key: impl Fn(&RunName) -> K,
) -> Vec<(RunName, T)> {
    items.sort_by_key(|(name, _)| std::cmp::Reverse(key(name)));
    if let Some(boundary) = items
        .get(limit.saturating_sub(1))
        .map(|(name, _)| key(name))
    {
        let keep = items
            .iter()
            .take_while(|(name, _)| key(name) >= boundary)
            .count();
        items.truncate(keep);
    }
    items
}

/// When a run was created, from its directory alone: the second in its id
/// (`<slug>-<YYYYMMDD>-<HHMMSS>-<hex>`, else the directory's), then the directory's creation
/// (else modification) time in nanoseconds.
fn creation_key(id: &str, created: Option<SystemTime>) -> (i64, u128) {
    let nanos = created
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let seconds = id_seconds(id).unwrap_or_else(|| created.map_or(0, unix_millis).div_euclid(1000));
    (seconds, nanos)
}

/// The UTC second a run id names, if it has the shape the runner gives ids.
fn id_seconds(id: &str) -> Option<i64> {
    let mut parts = id.rsplitn(4, '-');
    let (_hex, hms, ymd) = (parts.next()?, parts.next()?, parts.next()?);
    if hms.len() != 6
        || ymd.len() != 8
        || !(hms.bytes().chain(ymd.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let two = |digits: &str| digits.parse::<u8>().ok();
    let date = ::time::Date::from_calendar_date(
        ymd[..4].parse().ok()?,
        ::time::Month::try_from(two(&ymd[4..6])?).ok()?,
        two(&ymd[6..])?,
    )
    .ok()?;
    let clock = ::time::Time::from_hms(two(&hms[..2])?, two(&hms[2..4])?, two(&hms[4..])?).ok()?;
    Some(date.with_time(clock).assume_utc().unix_timestamp())
}

/// Reads the run at `path` (a redirect stub followed); a broken stub is an unreadable entry.
fn load_entry(run_id: String, path: PathBuf) -> RunEntry {
    match resolve_run_dir(path.clone(), &run_id) {
        Ok(run) => RunEntry::load(run),
        Err(e) => RunEntry {
            run: RunDir::at(path, &run_id),
            state: Err(e),
            status: None,
            lock_holder: None,
            sort_key: 0,
        },
    }
}

/// `runs` newest first: by `created_at` (else the dir's mtime), then by id.
fn sorted(mut runs: Vec<RunEntry>) -> Vec<RunEntry> {
    runs.sort_by(|a, b| b.sort_key.cmp(&a.sort_key).then_with(|| b.id().cmp(a.id())));
    runs
}

impl ProjectDir {
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

    /// Like [`StateRoot::list_all_runs`], reading only the newest `limit` runs across projects
    /// (0: all); projects without one of them are left out.
    pub fn list_newest_all_runs(&self, limit: usize) -> Result<Vec<ProjectRuns>, StateError> {
        if limit == 0 {
            return self.list_all_runs();
        }
        let projects = self.projects()?;
        let mut names = Vec::new();
        for (index, project) in projects.iter().enumerate() {
            names.extend(project.run_names()?.into_iter().map(|name| (name, index)));
        }
        let names = newest(names, limit);
        let mut runs: Vec<Vec<RunEntry>> = projects.iter().map(|_| Vec::new()).collect();
        for (name, index) in names {
            if let Some(project_runs) = runs.get_mut(index) {
                project_runs.push(load_entry(name.id, name.path));
            }
        }
        Ok(projects
            .into_iter()
            .zip(runs)
            .filter(|(_, runs)| !runs.is_empty())
            .map(|(project, runs)| ProjectRuns {
                project,
                runs: sorted(runs),
            })
            .collect())
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

    /// A run dir named by `id`, its state created on `day` of January 2026.
    fn add_named_run(project: &ProjectDir, id: &str, day: u32) {
        let dir = project.runs_dir().join(id);
        fs::create_dir_all(&dir).unwrap();
        let run = RunDir::at(dir, id);
        let mut doc = StateDoc::new(id, "/p", WorkflowRef::default());
        doc.created_at = format!("2026-01-{day:02}T00:00:00.000Z");
        run.write_state(&doc).unwrap();
    }

    #[test]
    fn limited_listing_reads_the_newest_runs_by_their_ids() {
        let f = fixture();
        // Created on disk newest first: the time in the id, not the directory's, decides.
        add_named_run(&f.project, "w-20260103-000000-cccc", 3);
        add_named_run(&f.project, "w-20260102-000000-bbbb", 2);
        add_named_run(&f.project, "w-20260101-000000-aaaa", 1);
        // The state of a run that is not among the newest is never read.
        fs::write(
            f.project
                .runs_dir()
                .join("w-20260101-000000-aaaa/state.json"),
            b"{\"format_version\": 1, \"run_",
        )
        .unwrap();
        let ids = |runs: Vec<RunEntry>| runs.iter().map(|r| r.id().to_owned()).collect::<Vec<_>>();
        let two = ids(f.project.list_newest_runs(2).unwrap());
        assert_eq!(two, ["w-20260103-000000-cccc", "w-20260102-000000-bbbb"]);
        let all = f.project.list_newest_runs(0).unwrap();
        assert_eq!(all.len(), 3);
        assert!(
            all.iter().any(|run| run.state.is_err()),
            "unreadable runs are still listed"
        );
        let across = f.root.list_newest_all_runs(1).unwrap();
        assert_eq!(
            ids(across.into_iter().flat_map(|p| p.runs).collect()),
            ["w-20260103-000000-cccc"]
        );
        assert_eq!(id_seconds("w-20260101-000001-aaaa"), Some(1_767_225_601));
        assert_eq!(id_seconds("w-2026-01-01-aaaa"), None);
        assert_eq!(id_seconds("relocated"), None);
        assert_eq!(id_seconds("w-20261301-000000-aaaa"), None, "no 13th month");
        assert_eq!(id_seconds("w-20260230-000000-aaaa"), None, "no 30 February");
        assert_eq!(id_seconds("w-20260101-240000-aaaa"), None, "no hour 24");
        assert_eq!(id_seconds("w-19991231-235959-aaaa"), Some(946_684_799));
    }

    #[test]
    fn only_the_runs_of_the_newest_seconds_have_their_directory_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let ids = [
            "w-20260101-000000-aaaa",
            "w-20260103-000000-cccc",
            "w-20260103-000000-dddd",
            "relocated",
            "w-20260102-000000-bbbb",
        ];
        for id in ids {
            fs::create_dir(dir.path().join(id)).unwrap();
            // Directories of one second told apart by their creation time (file system
            // timestamps move by clock ticks of up to 4 ms).
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut entries = subdir_entries(dir.path()).unwrap();
        let items: Vec<(RunName, ())> = ids
            .iter()
            .map(|id| {
                let at = entries.iter().position(|(name, _, _)| name == id).unwrap();
                let (name, path, entry) = entries.swap_remove(at);
                (RunName::new(name, path, entry), ())
            })
            .collect();
        assert!(items[3].0.timed, "an id without a time needs its directory");
        assert!(!items[0].0.timed);
        let kept = newest(items, 2);
        let ids: Vec<&str> = kept.iter().map(|(n, ())| n.id.as_str()).collect();
        // `relocated` was made today: newest by far. Of the two runs of 2026-01-03, the one
        // whose directory came later wins the tie.
        assert_eq!(ids, ["relocated", "w-20260103-000000-dddd"]);
        assert!(kept.iter().all(|(n, ())| n.timed));
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
