//! Where a walker stands among the branches of parallel steps (control.md §8): the forks that
//! lead from the run's position to its own frames, its label, what stops it, and the working
//! directory its steps use.
//!
//! A parallel step's frame keeps its branches ([`crate::state::ParallelFrame`]); a walker
//! inside a branch reaches its frames by going down the run's chain and, at the depth of each
//! fork, into that branch's own position. The writer resolves a `depth` in an event with the
//! forks of the walker that reported it.

use std::path::PathBuf;

use super::super::signals::Halt;

/// One step into a branch: the parallel step's frame is at `depth`; the branch is `index`
/// (a group's child index, a loop's iteration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fork {
    pub depth: usize,
    pub index: u64,
}

/// A walker's place among branches; the default is the run's own walk (no branch).
#[derive(Debug, Clone, Default)]
pub struct BranchCtx {
    /// The forks from the top, outermost first.
    pub forks: Vec<Fork>,
    /// The innermost branch's label (`codex-review`, `per-task[3] a.md`): console prefix and
    /// the audit log's `data.branch`.
    pub label: Option<String>,
    /// Stops this branch and every branch inside it.
    pub halt: Option<Halt>,
    /// The colour of the label on a colour terminal, stable per branch.
    pub colour: u8,
    /// The working directory root of the branch's steps, when it is not the project directory
    /// (a git worktree: control.md §8 `worktree: true`). Nested branches inherit it.
    pub workdir: Option<PathBuf>,
    /// The top directory of the branch's git worktree (`{{worktree}}`, `AR_WORKTREE`).
    pub worktree: Option<PathBuf>,
}

impl BranchCtx {
    /// The place of a branch started by a walker at this place.
    pub fn enter(&self, fork: Fork, label: String, halt: Halt) -> BranchCtx {
        let mut forks = self.forks.clone();
        forks.push(fork);
        let colour = colour_of(&label);
        BranchCtx {
            forks,
            label: Some(label),
            halt: Some(halt),
            colour,
            workdir: self.workdir.clone(),
            worktree: self.worktree.clone(),
        }
    }

    pub fn is_branch(&self) -> bool {
        !self.forks.is_empty()
    }
}

/// A colour for a label, the same for the same label in every run (ANSI 31–36).
fn colour_of(label: &str) -> u8 {
    let sum = label.bytes().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    31 + u8::try_from(sum % 6).unwrap_or(0)
}
