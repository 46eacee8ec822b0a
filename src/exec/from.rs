//! `--from <STEP>`: where a run starts instead of the beginning, and the resume position's
//! display form.
//!
//! The step is a top-level id or a path `a/b` that goes into groups and sub-workflows whose
//! `workflow:` is static (never into loops). The run's position becomes a chain of pending
//! frames that leads to that step; the runtime then descends it like any saved position.

use std::sync::Arc;

use super::display::StepPath;
use super::error::RunError;
use super::subflow::Loader;
use crate::state::{Frame, StateDoc};
use crate::workflow::{Step, StepKind, Workflow};

/// One level of the chain: the list, the index of the chosen step in it, and its file.
struct Level {
    steps: Vec<Step>,
    index: usize,
}

/// Checks that `from` names a step (exit 2 with a did-you-mean otherwise).
pub fn check_exists(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    from: &str,
) -> Result<(), RunError> {
    levels(loader, workflow, from).map(|_| ())
}

fn levels(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    from: &str,
) -> Result<Vec<Level>, RunError> {
    let mut levels = Vec::new();
    let mut current = workflow.clone();
    let mut steps: Vec<Step> = workflow.steps.clone();
    let segments: Vec<&str> = from.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let Some(index) = steps.iter().position(|s| s.id == *segment) else {
            return Err(no_step(workflow, from, &steps));
        };
        let step = steps[index].clone();
        levels.push(Level {
            steps: steps.clone(),
            index,
        });
        if i + 1 == segments.len() {
            break;
        }
        steps = match &step.kind {
            StepKind::Group(children) => children.clone(),
            StepKind::SubWorkflow(call) if call.workflow.is_static() => {
                let child = loader
                    .load_sub(call.workflow.text(), &current.source)
                    .map_err(RunError::FromSubWorkflow)?;
                current = child.clone();
                child.steps.clone()
            }
            _ => return Err(no_step(workflow, from, &[])),
        };
    }
    Ok(levels)
}

fn no_step(workflow: &Workflow, from: &str, candidates: &[Step]) -> RunError {
    let ids: Vec<&str> = candidates
        .iter()
        .map(|s| s.id.as_str())
        .chain(workflow.walk().map(|s| s.id.as_str()))
        .collect();
    let last = from.rsplit('/').next().unwrap_or(from);
    let hint = crate::workflow::suggest::did_you_mean(last, ids.iter().copied());
    RunError::NoSuchStep {
        from: from.to_owned(),
        workflow: workflow.name.clone(),
        hint,
    }
}

/// The pending frame chain that leads to `from`. Steps before it are listed in the returned
/// skip list (console form, audit form) for a new run's `skip` events.
pub fn chain_to(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    from: &str,
) -> Result<Frame, RunError> {
    let levels = levels(loader, workflow, from)?;
    let mut chain: Option<Frame> = None;
    for level in levels.iter().rev() {
        let step = &level.steps[level.index];
        let mut frame = Frame::pending(level.index, step.id.clone());
        frame.child = chain.take().map(Box::new);
        chain = Some(frame);
    }
    chain.ok_or_else(|| RunError::NoSuchStep {
        from: from.to_owned(),
        workflow: workflow.name.clone(),
        hint: String::new(),
    })
}

/// The steps a new run with `--from` skips: every step before the chosen one at each level, as
/// (console path, audit path, whether it is a shell or agent step — those count as skipped).
pub fn skipped_before(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    from: &str,
) -> Result<Vec<(String, String, bool)>, RunError> {
    let levels = levels(loader, workflow, from)?;
    let mut path = StepPath::default();
    let mut skipped = Vec::new();
    for level in &levels {
        for step in &level.steps[..level.index] {
            let leaf = matches!(step.kind, StepKind::Shell(_) | StepKind::Agent(_));
            skipped.push((
                path.display_of(index_of(&level.steps, step), level.steps.len(), &step.id),
                path.audit_of(&step.id),
                leaf,
            ));
        }
        let chosen = &level.steps[level.index];
        path = path.enter(level.index, level.steps.len(), &chosen.id);
    }
    Ok(skipped)
}

fn index_of(steps: &[Step], step: &Step) -> usize {
    steps.iter().position(|s| s.id == step.id).unwrap_or(0)
}

/// The console form of a saved position: `4/9 implement > #2/5 > run-tests`.
pub fn display_position(doc: &StateDoc, workflow: &Workflow) -> String {
    let Some(top) = &doc.position else {
        return "the end".to_owned();
    };
    let mut text = format!("{}/{} {}", top.index + 1, workflow.steps.len(), top.step_id);
    let mut frame = top;
    loop {
        if let Some(looped) = &frame.loop_ {
            let total = looped
                .items
                .as_ref()
                .map_or(looped.max.unwrap_or(0), crate::state::ItemList::len);
            text.push_str(&format!(" > #{}/{total}", looped.iteration + 1));
        }
        let Some(child) = frame.child.as_deref() else {
            break;
        };
        if !child.step_id.is_empty() {
            text.push_str(&format!(" > {}", child.step_id));
        }
        frame = child;
    }
    text
}

/// The saved position's top-level step must still exist before a resume says where it continues
/// (deeper levels are checked as the run descends).
pub fn check_position(doc: &StateDoc, workflow: &Workflow) -> Result<(), RunError> {
    let Some(top) = &doc.position else {
        return Ok(());
    };
    if top.step_id.is_empty() || workflow.steps.iter().any(|s| s.id == top.step_id) {
        return Ok(());
    }
    Err(missing_step(&top.step_id, &workflow.source, &doc.run_id))
}

/// `cannot resume: step "<id>" no longer exists in <file>; …` (runs-and-state.md §5), exit 3.
pub fn missing_step(step_id: &str, source: &crate::workflow::Source, run_id: &str) -> RunError {
    RunError::StepGone {
        step_id: step_id.to_owned(),
        source_name: source.to_string(),
        run_id: run_id.to_owned(),
    }
}
