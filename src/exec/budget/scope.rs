//! A container's budget for as long as it runs (control.md §11): a loop, group or sub-workflow
//! step with `budget` limits the sum of its steps; a sub-workflow file's top-level `budget`
//! limits that call (the calling step's own keys win). A resumed container counts what its
//! steps committed before, from the audit log.

use std::path::Path;
use std::sync::Arc;

use super::{Tracker, spent_in_audit};
use crate::workflow::budget::Budget;
use crate::workflow::{Step, StepKind};

/// Entered on creation, left when dropped.
pub struct ScopeGuard {
    tracker: Arc<Tracker>,
    prefix: String,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        self.tracker.leave_scope(&self.prefix);
    }
}

/// Enters the budget of container `step` at `audit_path` (with `file_budget`, the top-level
/// budget of a called sub-workflow file), when it has one.
pub fn enter(
    tracker: &Arc<Tracker>,
    step: &Step,
    audit_path: &str,
    file_budget: Option<Budget>,
    audit_log: &Path,
    resuming: bool,
) -> Option<ScopeGuard> {
    let budget = match (step.budget(), file_budget) {
        (Some(own), Some(file)) => own.or(file),
        (own, file) => own.or(file)?,
    };
    if !budget.limits_anything() {
        return None;
    }
    // Loop bodies are `each[2]/step`, group and sub-workflow bodies `group/step`.
    let prefix = match step.kind {
        StepKind::Loop(_) => format!("{audit_path}["),
        _ => format!("{audit_path}/"),
    };
    let spent = if resuming {
        spent_in_audit(audit_log, &prefix)
    } else {
        super::Spent::default()
    };
    let word = match &step.kind {
        StepKind::Loop(_) => "loop",
        StepKind::SubWorkflow(_) => "sub-workflow",
        _ => "group",
    };
    let label = format!("{word} \"{}\"", step.id);
    tracker.enter_scope(prefix.clone(), label, budget, spent);
    Some(ScopeGuard {
        tracker: tracker.clone(),
        prefix,
    })
}
