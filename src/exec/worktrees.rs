//! Worktrees at run time (control.md §8, §11): what a parallel step with `worktree: true` asks of
//! [`crate::worktree`] when it starts (the repository and the commit its branches start from) and
//! when each branch starts (the branch's worktree, made or reused).
//!
//! Git runs on the blocking pool: branches run concurrently on the run's one thread, and a
//! `git worktree add` must not hold the others up. A worktree that cannot be made fails the
//! branch with class `workdir`, like a `workdir` that does not exist.

use std::path::{Path, PathBuf};

use super::outcome::{ErrorClass, Failure};
use crate::worktree::{Repo, Worktree, WorktreeError};

/// What a parallel step's branches share: the repository and the base commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub repo: Repo,
    /// The commit every branch starts from.
    pub commit: String,
    /// The working tree has changes that the worktrees will not have.
    pub dirty: bool,
}

/// The warning when the base leaves uncommitted changes behind.
pub const DIRTY_WARNING: &str = "uncommitted changes are not in the worktrees";

/// The audit and warning code of worktree warnings.
pub const WARNING_CODE: &str = "worktree";

/// The base of a parallel step starting now: `recorded` (a resume keeps the commit the step
/// started from), else the commit `HEAD` names now.
pub async fn base(project_dir: &Path, recorded: Option<String>) -> Result<Base, Failure> {
    let project_dir = project_dir.to_path_buf();
    blocking(move || {
        let repo = Repo::discover(&project_dir)?;
        let commit = match recorded {
            Some(commit) => commit,
            None => repo.head()?,
        };
        let dirty = repo.has_uncommitted_changes()?;
        Ok(Base {
            repo,
            commit,
            dirty,
        })
    })
    .await
}

/// The worktree of the branch at step path `owner` (slug `wanted`, or a numbered one when
/// another branch of the run has it), made from the base or found again.
pub async fn ensure(
    base: &Base,
    run_id: &str,
    wanted: String,
    owner: &str,
) -> Result<Worktree, Failure> {
    let (repo, run_id, owner, commit) = (
        base.repo.clone(),
        run_id.to_owned(),
        owner.to_owned(),
        base.commit.clone(),
    );
    blocking(move || repo.ensure(&run_id, &wanted, &owner, &commit)).await
}

/// The working directory of a branch's steps in its worktree.
pub fn workdir(base: &Base, worktree: &Worktree) -> PathBuf {
    base.repo.workdir_in(&worktree.path)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, WorktreeError> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Failure::new(
            ErrorClass::Workdir,
            format!("cannot make the branch's git worktree: {err}"),
        )),
        Err(err) => Err(Failure::new(
            ErrorClass::Internal,
            format!("the git worktree task failed: {err}"),
        )),
    }
}
