//! Git worktrees for parallel branches (control.md §8 "Worktrees", §11 "Worktrees, precisely").
//!
//! A parallel step with `worktree: true` gives each of its branches its own checkout, so that
//! agents working side by side do not trample each other. The runtime asks this module three
//! things: which repository the project is in ([`Repo::discover`], checked when the run starts),
//! the commit the branches start from ([`Repo::head`], recorded in state when the parallel step
//! starts) and, per branch, a worktree ([`Repo::ensure`], on a [`slug`] that no other branch of
//! the run has). The `worktrees` command lists and prunes them ([`command`]). Git runs as a child
//! process with an argument vector ([`git`]); a value from a workflow never reaches a shell.

pub mod command;
mod error;
mod git;
mod prune;
mod repo;
pub mod slug;

pub use error::WorktreeError;
pub use prune::{Pruned, RunBranch};
pub use repo::{BRANCH_PREFIX, Listed, Repo, WORKTREES_DIR, Worktree, branch_name};

#[cfg(test)]
mod tests;
