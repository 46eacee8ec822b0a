//! Where runs live (runs-and-state.md §1): the state root, the per-project key and
//! `project.json`, run dirs, and engine relocation through `redirect.json` stubs.
//!
//! ```text
//! <state root>/projects/<key>/project.json
//! <state root>/projects/<key>/runs/<run-id>/            the run dir, or a stub holding
//! <state root>/projects/<key>/runs/<run-id>/redirect.json = {"run_dir": "<D>/.agent-runner/runs/<run-id>"}
//! ```

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::StateError;
use super::fs_util::{
    create_private_dir_all, create_private_dir_new, private_file, subdirs, write_atomic,
};
use super::reserved_run::ReservedRun;
use super::run_dir::RunDir;
use super::run_id::{new_run_id, validate_run_id};
use super::time::now_rfc3339;
use crate::capped;

/// The stub file that points at a relocated run dir.
pub const REDIRECT_FILE: &str = "redirect.json";
/// The per-project file naming the project's real path.
pub const PROJECT_FILE: &str = "project.json";

/// How many fresh ids [`ProjectDir::create_run`] tries before giving up on collisions.
const CREATE_ATTEMPTS: usize = 8;
/// Small JSON files (project.json, redirect.json, lock) are never legitimately larger.
const MAX_SMALL_FILE: u64 = 64 * 1024;

/// The state root: `$AGENT_RUNNER_HOME`, default `~/.agent-runner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRoot {
    dir: PathBuf,
}

impl StateRoot {
    /// A state root at `dir` (tests, or an explicit setting).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateRoot { dir: dir.into() }
    }

    /// The state root from the environment: `$AGENT_RUNNER_HOME`, else `$HOME/.agent-runner`,
    /// else the home directory of the current user from the password database.
    pub fn from_env() -> Result<Self, StateError> {
        Self::from_vars(
            std::env::var_os("AGENT_RUNNER_HOME"),
            std::env::var_os("HOME"),
        )
    }

    fn from_vars(
        agent_runner_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Result<Self, StateError> {
        if let Some(dir) = agent_runner_home.filter(|d| !d.is_empty()) {
            return Ok(StateRoot::new(dir));
        }
        let home = match home.filter(|h| !h.is_empty()) {
            Some(home) => PathBuf::from(home),
            None => nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|user| user.dir)
                .ok_or(StateError::NoHome)?,
        };
        Ok(StateRoot::new(home.join(".agent-runner")))
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `<root>/projects`.
    pub fn projects_dir(&self) -> PathBuf {
        self.dir.join("projects")
    }

    /// The state dir of the project at `project_dir` (resolved to its real path). Nothing is
    /// created; call [`ProjectDir::ensure`] before creating a run.
    pub fn project(&self, project_dir: &Path) -> Result<ProjectDir, StateError> {
        let real =
            fs::canonicalize(project_dir).map_err(|e| StateError::io("resolve", project_dir, e))?;
        let key = project_key(&real);
        Ok(ProjectDir {
            dir: self.projects_dir().join(&key),
            key,
            project_path: Some(real),
        })
    }

    /// Every project that has a state dir, for `list --all`, sorted by key. The project path
    /// comes from `project.json` and is `None` if that file is missing or unreadable.
    pub fn projects(&self) -> Result<Vec<ProjectDir>, StateError> {
        let projects_dir = self.projects_dir();
        let dirs = subdirs(&projects_dir).map_err(|e| StateError::io("read", &projects_dir, e))?;
        let mut projects: Vec<ProjectDir> = dirs
            .into_iter()
            .map(|(key, dir)| ProjectDir {
                project_path: read_project_file(&dir).map(|p| PathBuf::from(p.path)),
                dir,
                key,
            })
            .collect();
        projects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(projects)
    }
}

/// `<basename>-<first 12 hex digits of sha256(realpath)>`; the basename keeps only
/// `[A-Za-z0-9._-]`, at most 40 characters (`project` if nothing is left, as for `/`).
pub fn project_key(real_path: &Path) -> String {
    let digest = Sha256::digest(real_path.as_os_str().as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let base: String = real_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(40)
        .collect();
    let base = if base.is_empty() { "project" } else { &base };
    format!("{base}-{hex}")
}

/// The contents of `project.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFile {
    pub path: String,
    pub created_at: String,
}

/// The contents of a `redirect.json` stub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub run_dir: String,
}

fn read_project_file(dir: &Path) -> Option<ProjectFile> {
    let bytes = capped::read(&dir.join(PROJECT_FILE), MAX_SMALL_FILE).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One project's state dir, `<root>/projects/<key>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDir {
    dir: PathBuf,
    key: String,
    project_path: Option<PathBuf>,
}

impl ProjectDir {
    /// The project key, e.g. `app-3f9c2a1b7d4e`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `<root>/projects/<key>`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The project's real path, when known.
    pub fn project_path(&self) -> Option<&Path> {
        self.project_path.as_deref()
    }

    /// `<root>/projects/<key>/runs`.
    pub fn runs_dir(&self) -> PathBuf {
        self.dir.join("runs")
    }

    /// Creates the project's state dir and `runs/` (0700) and writes `project.json` if missing.
    pub fn ensure(&self) -> Result<(), StateError> {
        let runs = self.runs_dir();
        create_private_dir_all(&runs).map_err(|e| StateError::io("create", &runs, e))?;
        if self.dir.join(PROJECT_FILE).exists() {
            return Ok(());
        }
        let file = ProjectFile {
            path: self
                .project_path
                .as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            created_at: now_rfc3339(),
        };
        write_json(&self.dir, PROJECT_FILE, &file)
    }

    /// Creates the dir of a new run of workflow `workflow_name` with a fresh id, and its
    /// `output/`: [`ProjectDir::reserve_run`], then [`ReservedRun::create`].
    pub fn create_run(
        &self,
        workflow_name: &str,
        relocate_to: Option<&Path>,
    ) -> Result<RunDir, StateError> {
        self.reserve_run(workflow_name)?.create(relocate_to)
    }

    /// Claims a fresh run id for a run of `workflow_name` by creating `runs/<id>/`, drawing a new
    /// id while the one drawn is taken (two runs started in the same second draw from only
    /// 65 536 suffixes). The id is known before the run dir is complete, because engine hooks and
    /// parameter defaults see it; it is claimed at once so that no other run can take it.
    pub fn reserve_run(&self, workflow_name: &str) -> Result<ReservedRun, StateError> {
        self.reserve_from(CREATE_ATTEMPTS, || {
            new_run_id(workflow_name, SystemTime::now())
        })
    }

    /// Claims the run id the user chose (`--run-id`): an invalid id or one already taken is an
    /// error, never a silently different id.
    pub fn reserve_named(&self, run_id: &str) -> Result<ReservedRun, StateError> {
        validate_run_id(run_id)?;
        self.ensure()?;
        let dir = self.runs_dir().join(run_id);
        match create_private_dir_new(&dir) {
            Ok(()) => Ok(ReservedRun::new(dir, run_id.to_owned())),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(StateError::RunExists(run_id.to_owned()))
            }
            Err(e) => Err(StateError::io("create run dir in", self.runs_dir(), e)),
        }
    }

    fn reserve_from(
        &self,
        attempts: usize,
        mut next_id: impl FnMut() -> String,
    ) -> Result<ReservedRun, StateError> {
        self.ensure()?;
        let mut last_error = None;
        for _ in 0..attempts {
            let run_id = next_id();
            validate_run_id(&run_id)?;
            let dir = self.runs_dir().join(&run_id);
            match create_private_dir_new(&dir) {
                Ok(()) => return Ok(ReservedRun::new(dir, run_id)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => return Err(StateError::io("create run dir in", self.runs_dir(), e)),
            }
        }
        let e = last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
        Err(StateError::io("create run dir in", self.runs_dir(), e))
    }

    /// Finds an existing run by id (validated first), following a `redirect.json` stub.
    /// Errors: `invalid run id "<id>"`, `no run "<id>" in this project`.
    pub fn open_run(&self, run_id: &str) -> Result<RunDir, StateError> {
        validate_run_id(run_id)?;
        let dir = self.runs_dir().join(run_id);
        if !dir.is_dir() {
            return Err(StateError::NoSuchRun(run_id.to_string()));
        }
        resolve_run_dir(dir, run_id)
    }
}

/// The run dir that `dir` (an entry of `runs/`) stands for: itself, or the target of its
/// `redirect.json`.
pub(crate) fn resolve_run_dir(dir: PathBuf, run_id: &str) -> Result<RunDir, StateError> {
    let stub = dir.join(REDIRECT_FILE);
    if !stub.exists() {
        return Ok(RunDir::at(dir, run_id));
    }
    let unreadable = |reason: String| StateError::Unreadable {
        run_id: run_id.to_string(),
        reason,
    };
    let bytes = capped::read(&stub, MAX_SMALL_FILE)
        .map_err(|e| unreadable(format!("{}: {e}", stub.display())))?;
    let redirect: Redirect = serde_json::from_slice(&bytes)
        .map_err(|e| unreadable(format!("{}: {e}", stub.display())))?;
    let target = PathBuf::from(&redirect.run_dir);
    if !target.is_absolute() || !target.is_dir() {
        return Err(unreadable(format!(
            "{} points to {}, which is not a directory",
            stub.display(),
            redirect.run_dir
        )));
    }
    Ok(RunDir::at(target, run_id))
}

/// Makes `D/.agent-runner/runs/` exist; a newly created `D/.agent-runner/` gets a `.gitignore`
/// of `*`. Returns the absolute path of `runs/`.
pub(super) fn prepare_relocation(d: &Path) -> Result<PathBuf, StateError> {
    let d = fs::canonicalize(d).map_err(|e| StateError::io("resolve", d, e))?;
    let home = d.join(".agent-runner");
    match create_private_dir_new(&home) {
        Ok(()) => {
            let gitignore = home.join(".gitignore");
            private_file()
                .write(true)
                .create_new(true)
                .open(&gitignore)
                .and_then(|mut f| f.write_all(b"*\n"))
                .map_err(|e| StateError::io("write", gitignore, e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StateError::io("create", home, e)),
    }
    let runs = home.join("runs");
    create_private_dir_all(&runs).map_err(|e| StateError::io("create", &runs, e))?;
    Ok(runs)
}

/// Writes a small JSON file atomically, pretty with a trailing newline.
fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<(), StateError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| StateError::io("write", dir.join(name), io::Error::other(e)))?;
    bytes.push(b'\n');
    write_atomic(dir, name, &bytes).map_err(|e| StateError::io("write", dir.join(name), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn project_key_shape() {
        let key = project_key(Path::new("/home/u/src/app"));
        let digest = Sha256::digest(b"/home/u/src/app");
        assert_eq!(
            key,
            format!(
                "app-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]
            )
        );
        assert_ne!(key, project_key(Path::new("/home/v/src/app")));
        assert!(project_key(Path::new("/x/my proj (1)")).starts_with("myproj1-"));
        assert!(project_key(Path::new("/")).starts_with("project-"));
        let long = format!("/x/{}", "n".repeat(60));
        assert_eq!(project_key(Path::new(&long)).len(), 40 + 1 + 12);
    }

    #[test]
    fn state_root_from_vars() {
        let root = StateRoot::from_vars(Some("/s".into()), Some("/h".into())).unwrap();
        assert_eq!(root.path(), Path::new("/s"));
        let root = StateRoot::from_vars(Some("".into()), Some("/h".into())).unwrap();
        assert_eq!(root.path(), Path::new("/h/.agent-runner"));
        assert!(StateRoot::from_vars(None, None).is_ok());
    }

    #[test]
    fn a_taken_run_id_is_drawn_again_and_an_unused_reservation_is_given_back() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let project = root.project(tmp.path()).unwrap();
        let first = project.reserve_from(1, || "w-1".to_owned()).unwrap();
        // The same id drawn twice (two runs in the same second): the next draw is used.
        let mut draws = ["w-1", "w-1", "w-2"].into_iter();
        let second = project
            .reserve_from(CREATE_ATTEMPTS, || draws.next().unwrap_or("w-3").to_owned())
            .unwrap();
        assert_eq!((first.id(), second.id()), ("w-1", "w-2"));
        let err = project.reserve_from(3, || "w-1".to_owned()).unwrap_err();
        assert!(err.to_string().contains("exists"), "{err}");
        let run = first.create(None).unwrap();
        assert!(run.output_dir().is_dir());
        drop(second);
        assert!(!project.runs_dir().join("w-2").exists());
        assert!(project.runs_dir().join("w-1").is_dir());
    }

    #[test]
    fn creates_and_opens_a_run() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let project = root.project(tmp.path()).unwrap();
        let run = project.create_run("Fix Bugs", None).unwrap();
        assert!(run.id().starts_with("fix-bugs-"));
        assert_eq!(run.path(), project.runs_dir().join(run.id()));
        assert!(run.output_dir().is_dir());
        let mode = fs::metadata(run.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        let file = read_project_file(project.path()).unwrap();
        assert_eq!(
            file.path,
            fs::canonicalize(tmp.path()).unwrap().to_string_lossy()
        );
        assert_eq!(project.open_run(run.id()).unwrap(), run);
        assert!(matches!(
            project.open_run("nope"),
            Err(StateError::NoSuchRun(_))
        ));
        assert!(matches!(
            project.open_run("../x"),
            Err(StateError::InvalidRunId(_))
        ));

        let all = root.projects().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].key(), project.key());
        assert_eq!(all[0].project_path(), project.project_path());
    }

    #[test]
    fn relocated_run_leaves_a_stub() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let work = tmp.path().join("work");
        fs::create_dir(&work).unwrap();
        let project = root.project(&work).unwrap();
        let run = project.create_run("flokay", Some(&work)).unwrap();

        let real_work = fs::canonicalize(&work).unwrap();
        assert_eq!(
            run.path(),
            real_work.join(".agent-runner/runs").join(run.id())
        );
        assert_eq!(
            fs::read_to_string(real_work.join(".agent-runner/.gitignore")).unwrap(),
            "*\n"
        );
        let stub = project.runs_dir().join(run.id()).join(REDIRECT_FILE);
        let redirect: Redirect = serde_json::from_slice(&fs::read(stub).unwrap()).unwrap();
        assert_eq!(Path::new(&redirect.run_dir), run.path());
        assert_eq!(project.open_run(run.id()).unwrap(), run);

        // An existing .agent-runner/ is not given a .gitignore.
        fs::remove_file(real_work.join(".agent-runner/.gitignore")).unwrap();
        project.create_run("flokay", Some(&work)).unwrap();
        assert!(!real_work.join(".agent-runner/.gitignore").exists());
    }

    #[test]
    fn missing_relocation_target_keeps_the_default() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let project = root.project(tmp.path()).unwrap();
        let run = project
            .create_run("w", Some(&tmp.path().join("absent")))
            .unwrap();
        assert_eq!(run.path(), project.runs_dir().join(run.id()));
    }

    #[test]
    fn broken_stub_is_unreadable() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let project = root.project(tmp.path()).unwrap();
        project.ensure().unwrap();
        let stub_dir = project.runs_dir().join("w-1");
        fs::create_dir(&stub_dir).unwrap();
        for content in [
            "garbage",
            r#"{"run_dir": "/definitely/not/here"}"#,
            r#"{"run_dir": "rel"}"#,
        ] {
            fs::write(stub_dir.join(REDIRECT_FILE), content).unwrap();
            let err = project.open_run("w-1").unwrap_err();
            assert!(matches!(err, StateError::Unreadable { .. }), "{err}");
        }
    }
}
