//! Loops: counted (`max`) and for-each (`over`), each iteration running the body as a child
//! step list.
//!
//! The loop's plan (its `max`, or the frozen match list) is stored in its frame before it
//! starts; each iteration sets up the body's frame and lets the runtime run it at the next
//! depth. On resume the frames are already there, so the same code continues where the run
//! stopped.

use super::super::error::RunError;
use super::super::glob;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::run::{Event, Report, StepCtx};
use super::first_id;
use crate::state::{
    IterationEnd, IterationStart, LoopFrame, LoopKind as StateLoopKind, StepOutcome, StepStart,
};
use crate::workflow::{LoopKind, LoopMax, LoopStep};

/// Items listed in the `step_start` event of a for-each loop.
const AUDIT_ITEMS: usize = 100;

pub async fn run(cx: &mut StepCtx<'_, '_>, spec: &LoopStep) -> Result<Report, RunError> {
    let at = cx.at;
    let depth = at.ctx.depth;
    let resumed = at.resuming && cx.frame().is_some_and(|f| f.loop_.is_some());
    if !resumed {
        let plan = match plan_loop(cx, spec) {
            Ok(plan) => plan,
            Err(failure) => {
                cx.start("loop", StepStart::default())?;
                return Ok(Report::failed(failure));
            }
        };
        let start = start_data(&plan);
        let label = loop_label(&plan);
        cx.emit(Event::LoopPlanned { depth, plan })?;
        cx.start(&label, start)?;
    }
    // The frozen list can be long (10 000 items): it stays in the frame and is never cloned.
    let Some((kind, total, label)) = cx.frame().and_then(|f| {
        f.loop_
            .as_ref()
            .map(|l| (l.kind, loop_total(l), loop_label(l)))
    }) else {
        return Ok(Report::failed(missing_loop_state()));
    };
    if resumed {
        cx.emit(Event::Heading {
            display: at.display.to_owned(),
            label,
        })?;
    }
    if spec.is_parallel() {
        return super::parallel::iterations(cx, spec).await;
    }
    let mut iterations = 0u64;
    loop {
        let Some((broken, iteration, item)) = cx.frame().and_then(|f| {
            f.loop_
                .as_ref()
                .map(|l| (l.break_triggered, l.iteration, item_of(l, l.iteration)))
        }) else {
            return Ok(Report::failed(missing_loop_state()));
        };
        let item = match item {
            Ok(item) => item,
            Err(failure) => return Ok(Report::failed(failure)),
        };
        if broken {
            break;
        }
        if iteration >= total {
            if kind == StateLoopKind::Counted && spec.has_break {
                let message = format!(
                    "loop \"{}\" ran all {total} iterations without meeting its break_if condition",
                    at.step.id
                );
                let mut report = Report::failed(Failure::new(ErrorClass::LoopExhausted, message));
                report.record.iterations = Some(iterations);
                return Ok(report);
            }
            break;
        }
        if cx.interrupts().stopping() {
            return Ok(Report::new(End::Interrupted));
        }
        let mut vars = Vec::new();
        if let (LoopKind::ForEach { var, .. }, Some(item)) = (&spec.kind, &item) {
            vars.push((var.clone(), item.clone()));
        }
        if let Some(index_var) = &spec.as_index {
            vars.push((index_var.clone(), iteration.to_string()));
        }
        let path =
            at.ctx
                .path
                .enter_iteration(at.index, at.steps.len(), &at.step.id, iteration, total);
        cx.emit(Event::IterationHeading {
            heading: format!("{} > #{}/{total}", at.display, iteration + 1),
            item: item.clone(),
        })?;
        let iteration_path = format!("{}[{iteration}]", at.audit_path);
        if cx.frame().is_none_or(|f| f.child.is_none()) {
            let record = IterationStart {
                iteration: Some(iteration),
                item,
                vars: vars
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            };
            cx.emit(Event::IterationStarted {
                depth,
                path: iteration_path.clone(),
                first_id: first_id(&spec.steps),
                record,
            })?;
        }
        let started = std::time::Instant::now();
        let body = at.ctx.loop_body(path, vars);
        let end = cx.run_list(&body, &spec.steps).await?;
        iterations += 1;
        let (outcome, finish) = match &end {
            End::Success => (StepOutcome::Success, None),
            End::Break => (StepOutcome::Success, Some(End::Success)),
            End::Failed(_) => (StepOutcome::Failed, Some(end.clone())),
            End::Interrupted => return Ok(Report::new(End::Interrupted)),
        };
        cx.emit(Event::IterationEnded {
            depth,
            path: iteration_path,
            record: IterationEnd {
                iteration: Some(iteration),
                outcome: Some(outcome),
                duration_ms: Some(started.elapsed().as_millis() as u64),
            },
            next: (!matches!(end, End::Failed(_))).then_some(matches!(end, End::Break)),
        })?;
        if let Some(end) = finish {
            let mut report = Report::new(end);
            report.record.iterations = Some(iterations);
            if matches!(report.end, End::Success) {
                report.record.break_triggered = Some(true);
            }
            return Ok(report);
        }
    }
    let mut report = Report::new(End::Success);
    report.record.iterations = Some(iterations);
    Ok(report)
}

/// The item of a for-each loop's iteration (read from the run dir when the list is stored
/// there, which can fail).
fn item_of(state: &LoopFrame, iteration: u64) -> Result<Option<String>, Failure> {
    state.items.as_ref().map_or(Ok(None), |items| {
        items.get(iteration).map_err(|err| {
            Failure::new(
                ErrorClass::Internal,
                format!("cannot read the loop's item list: {err}"),
            )
        })
    })
}

/// The number of iterations: the frozen list's length, or `max`.
pub(super) fn loop_total(state: &LoopFrame) -> u64 {
    state
        .items
        .as_ref()
        .map_or(state.max.unwrap_or(0), crate::state::ItemList::len)
}

/// The console label: `loop x<max>` or `for-each <n> matches`.
fn loop_label(state: &LoopFrame) -> String {
    let total = loop_total(state);
    match state.kind {
        StateLoopKind::Counted => format!("loop x{total}"),
        StateLoopKind::ForEach => format!("for-each {total} matches"),
    }
}

/// The loop-specific `step_start` data.
fn start_data(state: &LoopFrame) -> StepStart {
    match state.kind {
        StateLoopKind::Counted => StepStart {
            loop_kind: Some("counted".to_owned()),
            max: state.max,
            ..StepStart::default()
        },
        StateLoopKind::ForEach => {
            // A planned list is in memory.
            let items = state
                .items
                .as_ref()
                .and_then(crate::state::ItemList::as_slice)
                .unwrap_or_default();
            StepStart {
                loop_kind: Some("for_each".to_owned()),
                pattern: state.pattern.clone(),
                match_count: Some(items.len() as u64),
                items: Some(items[..items.len().min(AUDIT_ITEMS)].to_vec()),
                ..StepStart::default()
            }
        }
    }
}

fn missing_loop_state() -> Failure {
    Failure::new(ErrorClass::Internal, "loop state is missing")
}

/// Renders `max` or expands `over`: the frozen loop state.
fn plan_loop(cx: &StepCtx<'_, '_>, spec: &LoopStep) -> Result<LoopFrame, Failure> {
    match &spec.kind {
        LoopKind::Counted { max } => {
            let max = match max {
                LoopMax::Fixed(n) => u64::from(*n),
                LoopMax::Template(template) => {
                    let text = cx.render(template)?;
                    match text.trim().parse::<u64>() {
                        Ok(n) if (1..=10_000).contains(&n) => n,
                        _ => {
                            return Err(Failure::new(
                                ErrorClass::InvalidValue,
                                format!(
                                    "loop \"max\" must be a whole number from 1 to 10000, found \"{text}\""
                                ),
                            ));
                        }
                    }
                }
            };
            Ok(LoopFrame {
                kind: StateLoopKind::Counted,
                max: Some(max),
                ..LoopFrame::default()
            })
        }
        LoopKind::ForEach {
            over,
            require_matches,
            ..
        } => {
            let pattern = cx.render(over)?;
            let items = glob::expand(&pattern, &cx.workdir_root())
                .map_err(|err| Failure::new(ErrorClass::Glob, err.to_string()))?;
            if items.is_empty() && *require_matches {
                return Err(Failure::new(
                    ErrorClass::Glob,
                    format!(
                        "for-each loop \"{}\" matched no files for pattern \"{pattern}\"",
                        cx.at.step.id
                    ),
                ));
            }
            Ok(LoopFrame {
                kind: StateLoopKind::ForEach,
                pattern: Some(pattern),
                items: Some(items.into()),
                ..LoopFrame::default()
            })
        }
    }
}
