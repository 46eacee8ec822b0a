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

/// The git setting of a run's branch (`branch.<name>.agent-runner-path`) that names the step
/// path owning it.
const OWNER_KEY: &str = "agent-runner-path";

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
    /// The branch's slug: the one wanted, or a numbered one when another branch had it.
    pub slug: String,
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

    /// The worktree of the run's branch whose step path is `owner` (`tasks[3]`), on the slug
    /// `wanted` or, when another branch of the run already has that one, `wanted-2`, `wanted-3`,
    /// …: reused when the branch is there (a resume), else created on a new branch from `base`.
    ///
    /// Git itself remembers which step path owns a branch (the branch's `agent-runner-path`
    /// setting), so a resume finds the same slug again whatever happened in between.
    pub fn ensure(
        &self,
        run_id: &str,
        wanted: &str,
        owner: &str,
        base: &str,
    ) -> Result<Worktree, WorktreeError> {
        // Another branch's creation failing must not stop this one: the guard protects no data.
        let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
        self.make_worktrees_dir()?;
        let listed = self.list()?;
        let mut n = 1u64;
        loop {
            let candidate = match n {
                1 => wanted.to_owned(),
                n => format!("{wanted}-{n}"),
            };
            let branch = branch_name(run_id, &candidate);
            let path = self.worktree_path(run_id, &candidate);
            let exists = self.branch_exists(&branch)?;
            let mine = exists && self.owner_of(&branch)?.as_deref() == Some(owner);
            let registered = listed.iter().find(|w| same_path(&w.path, &path));
            let free = !exists && registered.is_none() && !path.exists();
            if mine || free {
                let worktree = Worktree {
                    path,
                    branch,
                    slug: candidate,
                    created: true,
                };
                return self.check_out(worktree, registered, base, owner, run_id);
            }
            n += 1;
        }
    }

    /// Checks out `worktree.branch` at `worktree.path`: nothing to do when it is there already,
    /// the existing branch when only its directory is gone, else a new branch from `base`.
    fn check_out(
        &self,
        mut worktree: Worktree,
        registered: Option<&Listed>,
        base: &str,
        owner: &str,
        run_id: &str,
    ) -> Result<Worktree, WorktreeError> {
        let Worktree { path, branch, .. } = &worktree;
        match registered {
            Some(w) if w.branch.as_deref() != Some(branch.as_str()) => {
                return Err(WorktreeError::PathTaken {
                    path: path.clone(),
                    branch: branch.clone(),
                    run_id: run_id.to_owned(),
                });
            }
            Some(w) if !w.missing => {
                worktree.created = false;
                return Ok(worktree);
            }
            _ => {}
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
        }
        let mut args: Vec<std::ffi::OsString> = vec!["worktree".into(), "add".into()];
        if registered.is_some() {
            // Registered, but its directory is gone: git wants to be told.
            args.push("--force".into());
        }
        if self.branch_exists(branch)? {
            args.extend([path.clone().into_os_string(), branch.into()]);
        } else {
            args.extend(["-b".into(), branch.into(), path.clone().into_os_string()]);
            args.push(base.into());
        }
        git::run(&self.top, &args)?;
        git::run(
            &self.top,
            [
                "config",
                "--local",
                &format!("branch.{branch}.{OWNER_KEY}"),
                owner,
            ],
        )?;
        Ok(worktree)
    }

    fn branch_exists(&self, branch: &str) -> Result<bool, WorktreeError> {
        git::succeeds(
            &self.top,
            [
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ],
        )
    }

    /// The step path that owns a branch of a run, if git has it.
    fn owner_of(&self, branch: &str) -> Result<Option<String>, WorktreeError> {
        let key = format!("branch.{branch}.{OWNER_KEY}");
        match git::run(&self.top, ["config", "--local", "--get", &key]) {
            Ok(owner) => Ok(Some(owner)),
            Err(WorktreeError::Git { .. }) => Ok(None),
            Err(err) => Err(err),
        }
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
