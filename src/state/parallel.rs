//! The state of a parallel step (control.md §8): a group with `parallel` or a loop with
//! `max_parallel`, whose branches run at once. The parallel step's frame keeps, besides the
//! usual fields, the next branch to start and every branch that started and has not completed:
//! each with its own position (a frame chain like the run's), its own scope (the captures and
//! the most recent session made inside it) and how it stands. A completed branch leaves the
//! list (a group's branch hands its captures to the enclosing scope first), so a resume
//! re-runs exactly the listed branches, each from its own position, then starts the ones not
//! yet started; the size of the document stays bounded by the branches running at once.

use serde::{Deserialize, Serialize};

use super::document::{Frame, Scope};

/// The branches of a parallel step in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelFrame {
    /// The branch that starts next: a group's child index or a loop's iteration. Every branch
    /// below it has started; those not in `branches` have completed.
    pub next: u64,
    /// The branches that started and have not completed, by index.
    pub branches: Vec<BranchFrame>,
    /// With `worktree: true`: the commit every branch's worktree starts from, fixed when the
    /// parallel step starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
}

/// One branch of a parallel step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchFrame {
    /// A group's child index or a loop's iteration.
    pub index: u64,
    /// The branch's label on the console and in the audit log's `data.branch`.
    pub label: String,
    pub state: BranchState,
    /// What the branch captured and its most recent session: visible inside it only.
    #[serde(default)]
    pub scope: Scope,
    /// The branch's own position, from its first step list down.
    pub position: Option<Frame>,
    /// With `worktree: true`: the branch's worktree, once made (its `worktree` event is logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
}

/// How a branch that has not completed stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchState {
    #[default]
    Running,
    Failed,
    Interrupted,
}

impl ParallelFrame {
    pub fn branch(&self, index: u64) -> Option<&BranchFrame> {
        self.branches.iter().find(|b| b.index == index)
    }

    pub fn branch_mut(&mut self, index: u64) -> Option<&mut BranchFrame> {
        self.branches.iter_mut().find(|b| b.index == index)
    }

    /// The branches that must run (again): the listed ones in order, then `next` up to `total`.
    pub fn to_run(&self, total: u64) -> Vec<u64> {
        let mut listed: Vec<u64> = self.branches.iter().map(|b| b.index).collect();
        listed.sort_unstable();
        listed.extend(self.next..total);
        listed
    }
}

impl Frame {
    /// Every frame of this chain and of the branches inside it, depth first.
    pub fn walk(&self, f: &mut impl FnMut(&Frame)) {
        f(self);
        if let Some(parallel) = self.parallel.as_ref() {
            for branch in &parallel.branches {
                if let Some(position) = branch.position.as_ref() {
                    position.walk(f);
                }
            }
        }
        if let Some(child) = self.child.as_deref() {
            child.walk(f);
        }
    }

    /// Every frame of this chain and of the branches inside it, depth first.
    pub fn walk_mut(&mut self, f: &mut impl FnMut(&mut Frame)) {
        f(self);
        if let Some(parallel) = self.parallel.as_mut() {
            for branch in &mut parallel.branches {
                if let Some(position) = branch.position.as_mut() {
                    position.walk_mut(f);
                }
            }
        }
        if let Some(child) = self.child.as_deref_mut() {
            child.walk_mut(f);
        }
    }

    /// The step path of every branch that is going on below this frame, or this frame's own
    /// path when there is none: `reviews/claude-review`, `per-task[3]/implement`.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_paths(String::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: String, out: &mut Vec<String>) {
        let mut path = prefix;
        let mut frame = self;
        loop {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&frame.step_id);
            if let Some(parallel) = frame.parallel.as_ref()
                && !parallel.branches.is_empty()
            {
                let looped = frame.loop_.is_some();
                for branch in &parallel.branches {
                    let base = if looped {
                        format!("{path}[{}]", branch.index)
                    } else {
                        path.clone()
                    };
                    match branch.position.as_ref() {
                        Some(position) => position.collect_paths(base, out),
                        None => out.push(base),
                    }
                }
                return;
            }
            if let Some(l) = &frame.loop_ {
                path.push_str(&format!("[{}]", l.iteration));
            }
            match frame.child.as_deref() {
                Some(child) => frame = child,
                None => break,
            }
        }
        out.push(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_running_branch_has_its_path() {
        let mut top = Frame::pending(1, "reviews");
        top.parallel = Some(ParallelFrame {
            next: 2,
            branches: vec![
                BranchFrame {
                    index: 0,
                    label: "claude-review".into(),
                    position: Some(Frame::pending(0, "claude-review")),
                    ..BranchFrame::default()
                },
                BranchFrame {
                    index: 1,
                    label: "codex-review".into(),
                    position: Some(Frame::pending(0, "codex-review")),
                    ..BranchFrame::default()
                },
            ],
            base_commit: None,
        });
        assert_eq!(
            top.paths(),
            ["reviews/claude-review", "reviews/codex-review"]
        );
        assert_eq!(top.path(), "reviews");
    }

    #[test]
    fn the_branches_to_run_are_the_unfinished_then_the_unstarted() {
        let frame = ParallelFrame {
            next: 5,
            branches: vec![
                BranchFrame {
                    index: 3,
                    ..BranchFrame::default()
                },
                BranchFrame {
                    index: 1,
                    ..BranchFrame::default()
                },
            ],
            base_commit: None,
        };
        assert_eq!(frame.to_run(7), [1, 3, 5, 6]);
    }
}
