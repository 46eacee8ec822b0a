//! Parallel steps (control.md §8): a group with `parallel`, whose children are branches, and a
//! loop with `max_parallel`, whose iterations are. Each executor says which branches are left
//! to run (after a resume: those that did not complete, then those never started) and how to
//! build one; the runtime runs them at once ([`StepCtx::run_branches`]).

use super::super::context::ListCtx;
use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::run::{BranchSpec, Event, Policy, Report, StepCtx};
use super::super::worktrees::{self, Base};
use crate::state::LoopFrame;
use crate::workflow::{LoopKind, LoopMax, LoopStep, Parallel, Step};
use crate::worktree::slug;

/// The branches of a parallel step that must run: as the frame lists them, or all of them.
fn to_run(cx: &StepCtx<'_, '_>, total: u64) -> Vec<u64> {
    cx.frame()
        .and_then(|f| f.parallel.as_ref().map(|p| p.to_run(total)))
        .unwrap_or_else(|| (0..total).collect())
}

/// A group's children, each a branch labelled with its id; what they capture is visible after
/// the group.
pub async fn group(
    cx: &mut StepCtx<'_, '_>,
    children: &[Step],
    parallel: Parallel,
) -> Result<Report, RunError> {
    let at = cx.at;
    let total = children.len() as u64;
    let indices = to_run(cx, total);
    let body = at
        .ctx
        .group(at.ctx.path.enter(at.index, at.steps.len(), &at.step.id));
    let make = |index: u64| {
        let i = usize::try_from(index)
            .unwrap_or(usize::MAX)
            .min(children.len().saturating_sub(1));
        let id = &children[i].id;
        BranchSpec {
            index,
            label: id.clone(),
            body: body.clone(),
            steps: &children[i..=i],
            worktree: at
                .step
                .worktree
                .then(|| (slug::group(id), format!("{}/{id}", at.audit_path))),
        }
    };
    let worktrees = match worktree_base(cx).await? {
        Ok(base) => base,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    let policy = Policy {
        max: parallel.max.map_or(children.len(), |m| m as usize),
        fail_fast: parallel.fail_fast,
        merge: Some(at.ctx.scope),
        worktrees,
    };
    let branches = cx.run_branches(indices, &make, policy).await?;
    Ok(report(branches.end, &branches.failed, None))
}

/// A loop's iterations, up to `max_parallel` at once, each a branch labelled `<id>[<i>]` (and
/// its item); what they capture stays in the iteration.
pub async fn iterations(cx: &mut StepCtx<'_, '_>, spec: &LoopStep) -> Result<Report, RunError> {
    let at = cx.at;
    let max = match max_parallel(cx, spec) {
        Ok(max) => max,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    // The frozen list is cloned once, in memory: every branch is built from it.
    let Some(mut state) = cx.frame().and_then(|f| f.loop_.clone()) else {
        return Ok(Report::failed(Failure::new(
            ErrorClass::Internal,
            "loop state is missing",
        )));
    };
    if let Some(items) = &state.items {
        match items.loaded() {
            Ok(loaded) => state.items = Some(loaded),
            Err(err) => {
                return Ok(Report::failed(Failure::new(
                    ErrorClass::Internal,
                    format!("cannot read the loop's item list: {err}"),
                )));
            }
        }
    }
    let total = super::loops::loop_total(&state);
    let indices = to_run(cx, total);
    let make = |index: u64| {
        let mut branch = branch_of(
            at.ctx,
            at.index,
            at.steps.len(),
            &at.step.id,
            spec,
            &state,
            index,
            total,
        );
        if at.step.worktree {
            let item = loaded_item(&state, index);
            branch.worktree = Some((
                slug::iteration(index, item.map(String::as_str)),
                format!("{}[{index}]", at.audit_path),
            ));
        }
        branch
    };
    let worktrees = match worktree_base(cx).await? {
        Ok(base) => base,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    let policy = Policy {
        max,
        fail_fast: true,
        merge: None,
        worktrees,
    };
    let branches = cx.run_branches(indices, &make, policy).await?;
    Ok(report(branches.end, &branches.failed, Some(branches.ran)))
}

/// Iteration `index` of a parallel loop as a branch.
#[expect(
    clippy::too_many_arguments,
    reason = "the loop's place and plan, all read once per branch"
)]
fn branch_of<'s>(
    ctx: &ListCtx,
    at_index: usize,
    len: usize,
    id: &str,
    spec: &'s LoopStep,
    state: &LoopFrame,
    index: u64,
    total: u64,
) -> BranchSpec<'s> {
    let item = loaded_item(state, index).cloned();
    let mut vars = Vec::new();
    if let (LoopKind::ForEach { var, .. }, Some(item)) = (&spec.kind, &item) {
        vars.push((var.clone(), item.clone()));
    }
    if let Some(index_var) = &spec.as_index {
        vars.push((index_var.clone(), index.to_string()));
    }
    let path = ctx.path.enter_iteration(at_index, len, id, index, total);
    let label = match &item {
        Some(item) => format!("{id}[{index}] {item}"),
        None => format!("{id}[{index}]"),
    };
    BranchSpec {
        index,
        label,
        body: ctx.loop_body(path, vars),
        steps: &spec.steps,
        worktree: None,
    }
}

/// With `worktree: true`: the repository and the commit the branches start from, recorded in
/// the step's frame the first time (a resume keeps it); a dirty working tree is warned about.
/// `None` without `worktree: true`, and in a simulation.
async fn worktree_base(
    cx: &mut StepCtx<'_, '_>,
) -> Result<Result<Option<Base>, Failure>, RunError> {
    let at = cx.at;
    if !at.step.worktree {
        return Ok(Ok(None));
    }
    if cx.branch().worktree.is_some() {
        return Ok(Err(Failure::new(
            ErrorClass::Workdir,
            format!(
                "step \"{}\" has \"worktree: true\" inside a branch that already runs in its own worktree (nested-worktree)",
                at.step.id
            ),
        )));
    }
    // A simulation makes no worktree (control.md §11): the branches run in place.
    if cx.settings().simulate.is_some() {
        cx.emit(Event::Line(format!(
            "{}  no worktrees in a simulation: the branches of \"{}\" run in the project directory",
            "  ".repeat(at.ctx.depth),
            at.step.id
        )))?;
        return Ok(Ok(None));
    }
    let recorded = cx
        .frame()
        .and_then(|f| f.parallel.as_ref().and_then(|p| p.base_commit.clone()));
    let project = cx.settings().project_dir.clone();
    let base = match worktrees::base(&project, recorded.clone()).await {
        Ok(base) => base,
        Err(failure) => return Ok(Err(failure)),
    };
    if recorded.is_none() {
        cx.emit(Event::WorktreeBase {
            depth: at.ctx.depth,
            commit: base.commit.clone(),
        })?;
        if base.dirty {
            cx.emit(Event::Warning {
                path: at.audit_path.to_owned(),
                code: worktrees::WARNING_CODE.to_owned(),
                message: worktrees::DIRTY_WARNING.to_owned(),
                shown: true,
            })?;
        }
    }
    Ok(Ok(Some(base)))
}

/// `max_parallel`, rendered: a whole number of at least 1.
fn max_parallel(cx: &StepCtx<'_, '_>, spec: &LoopStep) -> Result<usize, Failure> {
    match &spec.max_parallel {
        None => Ok(1),
        Some(LoopMax::Fixed(n)) => Ok(*n as usize),
        Some(LoopMax::Template(template)) => {
            let text = cx.render(template)?;
            match text.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(Failure::new(
                    ErrorClass::InvalidValue,
                    format!(
                        "loop \"max_parallel\" must be a whole number of at least 1, found \"{text}\""
                    ),
                )),
            }
        }
    }
}

/// The parallel step's report: how its branches ended, with the failed ones named.
fn report(end: End, failed: &[String], iterations: Option<u64>) -> Report {
    let end = match end {
        End::Failed(mut failure) if failed.len() > 1 => {
            failure.message = format!(
                "{} (and {} more failed branches: {})",
                failure.message,
                failed.len() - 1,
                failed[1..].join(", ")
            );
            End::Failed(failure)
        }
        end => end,
    };
    let mut report = Report::new(end);
    report.record.iterations = iterations;
    report
}

/// Item `index` of a loop whose list was loaded into memory.
fn loaded_item(state: &LoopFrame, index: u64) -> Option<&String> {
    let items = state.items.as_ref()?.as_slice()?;
    items.get(usize::try_from(index).ok()?)
}
