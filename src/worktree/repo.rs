//! The git repository a project is in, and the worktrees of a run inside it (control.md §8, §11).
//!
//! Worktrees live in `<project>/.agent-runner/worktrees/<run-id>/<branch-slug>` on the branch
//! `agent-runner/<run-id>/<branch-slug>`. [`Repo::ensure`] creates one from a base commit, or
//! reuses the one a resumed run already has; it never touches a path or branch that is not the
//! run's own.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::WorktreeError;
use super::git;

/// Where the runs' worktrees are, relative to the project dir.
pub const WORKTREES_DIR: &str = ".agent-runner/worktrees";

/// The prefix of every branch a run creates.
pub const BRANCH_PREFIX: &str = "agent-runner/";

/// Git is asked to create one worktree at a time: branches of a parallel step start together,
/// and concurrent `git worktree add` calls contend for the same repository files.
static CREATING: Mutex<()> = Mutex::new(());

/// A project inside a git repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The project dir, as the run knows it.
    pub project_dir: PathBuf,
    /// The top-level directory of the working tree the project is in.
    pub top: PathBuf,
    /// The project dir relative to `top` (empty when they are the same).
    pub prefix: PathBuf,
}

/// A branch's worktree, ready to run steps in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// The worktree's top-level directory.
    pub path: PathBuf,
    /// The branch checked out there (`agent-runner/<run-id>/<slug>`).
    pub branch: String,
    /// `false` when the worktree was already there (a resume).
    pub created: bool,
}

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    pub path: PathBuf,
    /// The branch checked out, without `refs/heads/`; `None` when detached.
    pub branch: Option<String>,
    /// Registered, but its directory is gone.
    pub missing: bool,
}

impl Repo {
    /// The repository `project_dir` is in. Errors: [`WorktreeError::NotGit`] outside one,
    /// [`WorktreeError::NoCommit`] when it has no commit yet (there is nothing to branch from).
    pub fn discover(project_dir: &Path) -> Result<Repo, WorktreeError> {
        let output = match git::run(
            project_dir,
            ["rev-parse", "--show-toplevel", "--show-prefix"],
        ) {
            Ok(output) => output,
            Err(WorktreeError::Git { .. }) => {
                return Err(WorktreeError::NotGit(project_dir.to_path_buf()));
            }
            Err(err) => return Err(err),
        };
        let mut lines = output.lines();
        let top = PathBuf::from(lines.next().unwrap_or_default());
        let prefix = PathBuf::from(lines.next().unwrap_or_default());
        if top.as_os_str().is_empty() {
            return Err(WorktreeError::NotGit(project_dir.to_path_buf()));
        }
        let repo = Repo {
            project_dir: project_dir.to_path_buf(),
            top,
            prefix,
        };
        repo.head()?;
        Ok(repo)
    }

    /// The commit `HEAD` names now (full hex id).
    pub fn head(&self) -> Result<String, WorktreeError> {
        git::run(
            &self.top,
            ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        )
        .map_err(|_| WorktreeError::NoCommit(self.top.clone()))
    }

    /// Whether the working tree has changes that a worktree made from `HEAD` would not have:
    /// modified, staged or untracked files (ignored files do not count).
    pub fn has_uncommitted_changes(&self) -> Result<bool, WorktreeError> {
        git::run(&self.top, ["status", "--porcelain"]).map(|out| !out.is_empty())
    }

    /// `<project>/.agent-runner/worktrees`.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.project_dir.join(WORKTREES_DIR)
    }

    /// Where a run's branch `slug` has its worktree.
    pub fn worktree_path(&self, run_id: &str, slug: &str) -> PathBuf {
        self.worktrees_dir().join(run_id).join(slug)
    }

    /// The working directory of steps in a worktree: the worktree's copy of the project dir.
    pub fn workdir_in(&self, worktree: &Path) -> PathBuf {
        worktree.join(&self.prefix)
    }

    /// The worktree of a run's branch `slug`: reused when it is there, else created on a new
    /// branch from `base` (or on the branch, when only the branch is left from an earlier run).
    pub fn ensure(&self, run_id: &str, slug: &str, base: &str) -> Result<Worktree, WorktreeError> {
        let path = self.worktree_path(run_id, slug);
        let branch = branch_name(run_id, slug);
        // Another branch's creation failing must not stop this one: the guard protects no data.
        let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
        self.make_worktrees_dir()?;
        let listed = self.list()?;
        let registered = listed.iter().find(|w| same_path(&w.path, &path));
        let taken = || WorktreeError::PathTaken {
            path: path.clone(),
            branch: branch.clone(),
            run_id: run_id.to_owned(),
        };
        match registered {
            Some(w) if w.branch.as_deref() != Some(branch.as_str()) => return Err(taken()),
            Some(w) if !w.missing => {
                return Ok(Worktree {
                    path,
                    branch,
                    created: false,
                });
            }
            Some(_) => {}
            None if path.exists() => return Err(taken()),
            None => {}
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
        }
        let force = registered.is_some();
        let branch_exists = git::succeeds(
            &self.top,
            [
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ],
        )?;
        let mut args: Vec<std::ffi::OsString> = vec!["worktree".into(), "add".into()];
        if force {
            args.push("--force".into());
        }
        if branch_exists {
            args.extend([path.clone().into_os_string(), branch.clone().into()]);
        } else {
            args.extend([
                "-b".into(),
                branch.clone().into(),
                path.clone().into_os_string(),
                base.into(),
            ]);
        }
        git::run(&self.top, &args)?;
        Ok(Worktree {
            path,
            branch,
            created: true,
        })
    }

    /// Creates `.agent-runner/worktrees/` with a `.gitignore` of `*` in it, so that neither the
    /// worktrees nor the ignore file show up as changes of the project.
    fn make_worktrees_dir(&self) -> Result<(), WorktreeError> {
        let dir = self.worktrees_dir();
        std::fs::create_dir_all(&dir).map_err(WorktreeError::io(&dir))?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n").map_err(WorktreeError::io(&ignore))?;
        }
        Ok(())
    }

    /// Every worktree of the repository (`git worktree list --porcelain`), the main one first.
    pub fn list(&self) -> Result<Vec<Listed>, WorktreeError> {
        let output = git::run(&self.top, ["worktree", "list", "--porcelain"])?;
        Ok(parse_list(&output))
    }
}

/// `agent-runner/<run-id>/<slug>`.
pub fn branch_name(run_id: &str, slug: &str) -> String {
    format!("{BRANCH_PREFIX}{run_id}/{slug}")
}

/// Parses `git worktree list --porcelain`: blocks of `key value` lines separated by blank lines.
fn parse_list(output: &str) -> Vec<Listed> {
    let mut all = Vec::new();
    let mut current: Option<Listed> = None;
    for line in output.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "worktree" => {
                all.extend(current.take());
                current = Some(Listed {
                    path: PathBuf::from(value),
                    ..Listed::default()
                });
            }
            "branch" => {
                if let Some(w) = current.as_mut() {
                    w.branch = Some(
                        value
                            .strip_prefix("refs/heads/")
                            .unwrap_or(value)
                            .to_owned(),
                    );
                }
            }
            "prunable" => {
                if let Some(w) = current.as_mut() {
                    w.missing = !w.path.exists();
                }
            }
            _ => {}
        }
    }
    all.extend(current);
    all
}

/// Whether two paths name the same place (git reports paths with symbolic links resolved).
fn same_path(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    a == b || canonical(a) == canonical(b) || canonical_parent(a) == canonical_parent(b)
}

/// A path with its parent resolved: the same place even when the path itself is gone.
fn canonical_parent(path: &Path) -> Option<PathBuf> {
    let parent = path.parent()?.canonicalize().ok()?;
    Some(parent.join(path.file_name()?))
}
