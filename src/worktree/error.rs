//! What can go wrong with a worktree. Every variant is a runtime or environment problem (exit 4):
//! the workflow itself was valid.

use std::io;
use std::path::PathBuf;

use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("git cannot be started (is it installed and on PATH?): {0}")]
    GitMissing(#[source] io::Error),
    #[error("\"{command}\" failed: {message}")]
    Git { command: String, message: String },
    #[error("{} is not inside a git repository", .0.display())]
    NotGit(PathBuf),
    #[error("the git repository at {} has no commit yet; worktrees start from a commit", .0.display())]
    NoCommit(PathBuf),
    #[error(
        "{} exists but is not the worktree of branch {branch}; move it away, or remove the run's worktrees with \"agent-runner worktrees prune {run_id} --force\"",
        .path.display()
    )]
    PathTaken {
        path: PathBuf,
        branch: String,
        run_id: String,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl WorktreeError {
    /// Always a runtime or environment error (cli.md §8).
    pub fn exit_code(&self) -> i32 {
        exit::RUNTIME
    }

    /// Wraps an I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> WorktreeError {
        let path = path.into();
        move |source| WorktreeError::Io { path, source }
    }
}
