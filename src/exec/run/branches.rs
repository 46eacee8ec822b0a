//! Running the branches of a parallel step (control.md §8) at once, on the run's one thread.
//!
//! Theory of operation. The parallel step's executor says which branches must run (those not
//! completed, in order) and how to build each one; [`Runtime::run_branches`] keeps up to `max`
//! of them going, each a walker of its own ([`Runtime::branch`]) whose events reach the one
//! writer with the branch's forks, so every branch has its own frames in `state.json`. A branch
//! is listed in the parallel step's frame when it starts (`BranchStarted`) and leaves the list
//! when it completes (`BranchEnded`; a group's branch hands its captures to the enclosing
//! scope then). A failed branch under `fail_fast` halts its running siblings (their process
//! groups get SIGTERM, `kill_grace`, SIGKILL; their steps end `interrupted`) and no new branch
//! starts; without it every branch runs to its end. A resume finds the listed branches with
//! their positions and runs only those and the ones never started.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::super::context::{ListCtx, ScopeRef};
use super::super::error::RunError;
use super::super::outcome::{End, Failure};
use super::super::signals::Halt;
use super::super::worktrees::{self, Base};
use super::branch::Fork;
use super::event::Event;
use super::walk::{BoxFuture, Runtime};
use crate::state::BranchState;
use crate::workflow::Step;

/// What `{{worktree}}` renders in a simulation, which makes no worktree (control.md §11).
const SIMULATED_WORKTREE: &str = "<worktree>";

/// One branch to run: its index (a group's child, a loop's iteration), label and step list.
pub struct BranchSpec<'s> {
    pub index: u64,
    pub label: String,
    pub body: ListCtx,
    pub steps: &'s [Step],
    /// With `worktree: true`: the slug the branch wants and its step path, which owns it.
    pub worktree: Option<(String, String)>,
}

/// How a parallel step runs its branches.
#[derive(Debug, Clone)]
pub struct Policy {
    /// At most this many at once (at least 1).
    pub max: usize,
    pub fail_fast: bool,
    /// A group's branches hand their captures to this scope when they complete; a loop's are
    /// iteration-local (`None`).
    pub merge: Option<ScopeRef>,
    /// With `worktree: true`: the repository and commit the branches' worktrees start from.
    pub worktrees: Option<Base>,
}

/// How the branches went, for the parallel step's report.
#[derive(Debug)]
pub struct Branches {
    pub end: End,
    /// Branches that ran to their end in this invocation (completed or failed).
    pub ran: u64,
    /// The labels of the branches that failed, in the order they failed.
    pub failed: Vec<String>,
}

impl Runtime {
    /// Runs the branches `indices` of the parallel step whose frame is at `depth`, building
    /// each with `make`, under `policy`.
    pub fn run_branches<'a>(
        &'a mut self,
        depth: usize,
        indices: Vec<u64>,
        make: &'a dyn Fn(u64) -> BranchSpec<'a>,
        policy: Policy,
    ) -> BoxFuture<'a, Result<Branches, RunError>> {
        Box::pin(async move {
            let mut queue = indices.into_iter();
            let mut running = FuturesUnordered::new();
            let mut halts: BTreeMap<u64, Halt> = BTreeMap::new();
            let mut labels: BTreeMap<u64, String> = BTreeMap::new();
            let mut first_failure: Option<Failure> = None;
            let mut fatal: Option<RunError> = None;
            let mut stop_starting = false;
            let mut out = Branches {
                end: End::Success,
                ran: 0,
                failed: Vec::new(),
            };
            let mut broke = false;
            let mut interrupted = false;
            loop {
                while !stop_starting && running.len() < policy.max.max(1) {
                    if self.interrupts.stopping() {
                        stop_starting = true;
                        break;
                    }
                    let Some(index) = queue.next() else { break };
                    let spec = make(index);
                    let halt = match &self.branch.halt {
                        Some(parent) => parent.child(),
                        None => self.halt.child(),
                    };
                    self.emit(Event::BranchStarted {
                        depth,
                        index,
                        label: spec.label.clone(),
                        first_id: spec.steps.first().map(|s| s.id.clone()).unwrap_or_default(),
                    })?;
                    let mut walker =
                        self.branch(Fork { depth, index }, spec.label.clone(), halt.clone());
                    halts.insert(index, halt);
                    labels.insert(index, spec.label.clone());
                    let base = policy.worktrees.clone();
                    running.push(async move {
                        let mut body = spec.body;
                        match (spec.worktree, base) {
                            (Some((wanted, owner)), Some(base)) => {
                                if let Err(end) =
                                    enter_worktree(&mut walker, &mut body, &base, wanted, &owner)
                                        .await
                                {
                                    return (index, end);
                                }
                            }
                            // A simulation: no worktree, the branch runs in place.
                            (Some(_), None) => body
                                .loop_vars
                                .push(("worktree".to_owned(), SIMULATED_WORKTREE.to_owned())),
                            (None, _) => {}
                        }
                        let end = walker.run_list(&body, spec.steps).await;
                        (index, end)
                    });
                }
                let Some((index, end)) = running.next().await else {
                    break;
                };
                halts.remove(&index);
                let label = labels.remove(&index).unwrap_or_default();
                let state = match end {
                    Ok(End::Success) => None,
                    Ok(End::Break) => {
                        broke = true;
                        None
                    }
                    Ok(End::Failed(failure)) => {
                        out.failed.push(label);
                        first_failure.get_or_insert(failure);
                        Some(BranchState::Failed)
                    }
                    Ok(End::Interrupted) => {
                        interrupted = true;
                        Some(BranchState::Interrupted)
                    }
                    Err(err) => {
                        fatal.get_or_insert(err);
                        Some(BranchState::Failed)
                    }
                };
                if !matches!(state, Some(BranchState::Interrupted)) {
                    out.ran += 1;
                }
                let stops = fatal.is_some()
                    || (policy.fail_fast && matches!(state, Some(BranchState::Failed)));
                if stops && !stop_starting {
                    stop_starting = true;
                    for halt in halts.values() {
                        halt.trigger();
                    }
                }
                // A fatal error has nothing more to record; the others' ends still are.
                if fatal.is_none() {
                    self.emit(Event::BranchEnded {
                        depth,
                        index,
                        state,
                        merge: policy.merge,
                    })?;
                }
            }
            if let Some(err) = fatal {
                return Err(err);
            }
            out.end = if self.interrupts.count() > 0 || self.interrupts.halted() {
                End::Interrupted
            } else if let Some(failure) = first_failure {
                End::Failed(failure)
            } else if interrupted {
                End::Interrupted
            } else if broke {
                End::Break
            } else {
                End::Success
            };
            Ok(out)
        })
    }
}

/// Makes (or finds again) the branch's worktree and moves the branch there: its steps' working
/// directory, `{{worktree}}` and `AR_WORKTREE`; logs the `worktree` event. A worktree that
/// cannot be made fails the branch.
async fn enter_worktree(
    walker: &mut Runtime,
    body: &mut ListCtx,
    base: &Base,
    wanted: String,
    owner: &str,
) -> Result<(), Result<End, RunError>> {
    let run_id = walker.writer().doc().run_id.clone();
    let worktree = match worktrees::ensure(base, &run_id, wanted, owner).await {
        Ok(worktree) => worktree,
        Err(mut failure) => {
            failure.path = Some(owner.to_owned());
            return Err(Ok(End::Failed(failure)));
        }
    };
    walker.branch.workdir = Some(worktrees::workdir(base, &worktree));
    walker.branch.worktree = Some(worktree.path.clone());
    let top = worktree.path.display().to_string();
    body.loop_vars.push(("worktree".to_owned(), top.clone()));
    let record = crate::state::WorktreeRecord::new(
        top,
        worktree.branch,
        base.commit.clone(),
        worktree.created,
    );
    walker
        .emit(Event::Worktree {
            path: owner.to_owned(),
            record,
        })
        .map_err(Err)
}
