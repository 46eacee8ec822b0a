//! Removing a run's worktrees and branches (`agent-runner worktrees prune <run-id> [--force]`).
//!
//! Worktrees hold the agents' work, so without `--force` only what would lose nothing goes: a
//! branch with no commit that `HEAD` lacks, whose worktree (if any) has no uncommitted change.
//! Everything else is kept and said why.

use std::path::PathBuf;

use super::error::WorktreeError;
use super::git;
use super::repo::{BRANCH_PREFIX, Repo};

/// One branch of a run, with its worktree if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunBranch {
    /// `agent-runner/<run-id>/<slug>`.
    pub branch: String,
    pub worktree: Option<PathBuf>,
    /// Commits on the branch that `HEAD` does not have.
    pub unmerged: u64,
    /// The worktree has modified, staged or untracked files.
    pub dirty: bool,
}

impl RunBranch {
    /// The run id and slug from the branch name.
    pub fn run_and_slug(&self) -> (&str, &str) {
        let rest = self
            .branch
            .strip_prefix(BRANCH_PREFIX)
            .unwrap_or(&self.branch);
        rest.split_once('/').unwrap_or((rest, ""))
    }

    /// Why `prune` without `--force` keeps it, if it does.
    pub fn keep_reason(&self) -> Option<String> {
        match (self.unmerged, self.dirty) {
            (0, false) => None,
            (0, true) => Some("uncommitted changes".to_owned()),
            (n, dirty) => Some(format!(
                "{n} unmerged commit{}{}",
                if n == 1 { "" } else { "s" },
                if dirty {
                    " and uncommitted changes"
                } else {
                    ""
                }
            )),
        }
    }
}

/// What `prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub removed: Vec<RunBranch>,
    /// Kept, with the reason.
    pub kept: Vec<(RunBranch, String)>,
}

impl Repo {
    /// The branches `agent-runner/<run-id>/…` (every run's when `run_id` is `None`), with their
    /// worktrees, sorted by name. A worktree whose branch was deleted by hand is not listed.
    pub fn run_branches(&self, run_id: Option<&str>) -> Result<Vec<RunBranch>, WorktreeError> {
        let prefix = match run_id {
            Some(id) => format!("refs/heads/{BRANCH_PREFIX}{id}/"),
            None => format!("refs/heads/{BRANCH_PREFIX}"),
        };
        let names = git::run(
            &self.top,
            ["for-each-ref", "--format=%(refname:short)", &prefix],
        )?;
        let worktrees = self.list()?;
        let mut branches = Vec::new();
        for name in names.lines().filter(|n| !n.is_empty()) {
            let worktree = worktrees
                .iter()
                .find(|w| w.branch.as_deref() == Some(name) && !w.missing)
                .map(|w| w.path.clone());
            let unmerged = git::run(
                &self.top,
                ["rev-list", "--count", &format!("HEAD..refs/heads/{name}")],
            )?
            .trim()
            .parse()
            .unwrap_or(0);
            let dirty = match &worktree {
                Some(path) => !git::run(path, ["status", "--porcelain"])?.is_empty(),
                None => false,
            };
            branches.push(RunBranch {
                branch: name.to_owned(),
                worktree,
                unmerged,
                dirty,
            });
        }
        branches.sort_by(|a, b| a.branch.cmp(&b.branch));
        Ok(branches)
    }

    /// Removes the run's worktrees and branches that have no unmerged commit and no uncommitted
    /// change; with `force`, all of them. Then the run's directory under
    /// `.agent-runner/worktrees/`, if it is empty.
    pub fn prune(&self, run_id: &str, force: bool) -> Result<Pruned, WorktreeError> {
        let mut pruned = Pruned::default();
        for branch in self.run_branches(Some(run_id))? {
            if let Some(reason) = branch.keep_reason().filter(|_| !force) {
                pruned.kept.push((branch, reason));
                continue;
            }
            if let Some(path) = &branch.worktree {
                let mut args = vec!["worktree".into(), "remove".into()];
                if force {
                    args.push("--force".into());
                }
                args.push(path.clone().into_os_string());
                git::run::<_, std::ffi::OsString>(&self.top, args)?;
            }
            git::run(&self.top, ["branch", "-D", "--", &branch.branch])?;
            pruned.removed.push(branch);
        }
        // Only an empty directory goes; anything left in it is not ours to delete.
        let _ = std::fs::remove_dir(self.worktrees_dir().join(run_id));
        Ok(pruned)
    }
}
