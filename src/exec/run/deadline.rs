//! `timeout` on a loop, group or sub-workflow step (control.md §2): the limit covers everything
//! inside, every iteration included, and is counted per attempt. At the deadline the container's
//! halt is triggered, as a failed sibling's would be under `fail_fast`: the running child's
//! process group is stopped (SIGTERM, `kill_grace`, SIGKILL) and recorded `interrupted`, no
//! other child starts, and the container fails with class `timeout`.

use std::time::Duration;

use super::super::error::RunError;
use super::super::process::limits::{Expired, LimitKind};
use super::super::steps::timeouts;
use super::StepCtx;
use super::event::Event;
use super::step::{At, Report};
use super::walk::Runtime;
use crate::workflow::{Step, StepKind};

/// The wall-clock limit of a container step; `None` for a leaf step or a container without one.
/// Configured defaults never apply to containers.
pub fn container_limit(step: &Step) -> Option<Duration> {
    match step.kind {
        StepKind::Loop(_) | StepKind::Group(_) | StepKind::SubWorkflow(_) => {
            step.limits.timeout.and_then(|limit| limit.duration())
        }
        _ => None,
    }
}

impl Runtime {
    /// Runs the container step `at` within `limit`.
    pub(super) async fn run_within(
        &mut self,
        at: &At<'_>,
        limit: Duration,
    ) -> Result<Report, RunError> {
        let halt = match &self.branch.halt {
            Some(halt) => halt.child(),
            None => self.halt.child(),
        };
        let outer_halt = self.branch.halt.replace(halt.clone());
        let inner = self.interrupts.with_halt(halt.clone());
        let outer_interrupts = std::mem::replace(&mut self.interrupts, inner);
        let shared = self.shared();
        let branch = self.branch.clone();
        let expired = Expired {
            kind: LimitKind::Wall,
            limit,
        };
        let mut fired = false;
        let report = {
            let mut cx = StepCtx::new(self, at);
            let run = super::super::steps::run(&mut cx);
            tokio::pin!(run);
            let deadline = tokio::time::sleep(limit);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    report = &mut run => break report,
                    () = &mut deadline, if !fired => {
                        fired = true;
                        let line = timeouts::announce_line(expired, &format!("the {}", what(at.step)));
                        shared.writer.borrow_mut().emit_in(&branch, Event::Line(line))?;
                        halt.trigger();
                    }
                }
            }
        };
        self.branch.halt = outer_halt;
        self.interrupts = outer_interrupts;
        let report = report?;
        // An interruption from outside stays one; otherwise what the halt stopped is a timeout.
        if !fired || self.interrupts.stopping() {
            return Ok(report);
        }
        Ok(timeouts::failure(&at.step.id, expired))
    }
}

/// What the console says is being stopped.
fn what(step: &Step) -> &'static str {
    match step.kind {
        StepKind::Loop(_) => "loop",
        StepKind::SubWorkflow(_) => "sub-workflow",
        _ => "group",
    }
}
