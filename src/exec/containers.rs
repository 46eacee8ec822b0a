//! Loops, groups and sub-workflows: the steps that run a child step list.
//!
//! Each one sets up the child frame (a loop iteration's body, the group's children, the
//! sub-workflow's steps) and lets the dispatcher run it at the next depth. On resume the frames
//! are already there, so the same code continues where the run stopped.

use std::sync::Arc;

use crate::state::AuditEvent;
use serde_json::{Map, json};

use super::dispatcher::{Dispatcher, Fatal};
use super::glob;
use super::outcome::{End, ErrorClass, Failure};
use super::step::{At, Report};
use crate::state::{Frame, LoopFrame, LoopKind as StateLoopKind, SubWorkflowFrame};
use crate::workflow::{LoopKind, LoopMax, LoopStep, Step, SubWorkflowStep};

/// Deepest allowed chain of sub-workflow calls.
const MAX_NESTING: usize = 32;
/// Items listed in the `step_start` event of a for-each loop.
const AUDIT_ITEMS: usize = 100;

pub async fn run_loop(d: &mut Dispatcher, at: &At<'_>, spec: &LoopStep) -> Result<Report, Fatal> {
    let depth = at.ctx.depth;
    let resumed = at.resuming && d.frame(depth).loop_.is_some();
    if !resumed {
        let state = match plan_loop(d, at, spec) {
            Ok(state) => state,
            Err(failure) => {
                d.begin(at, "loop", Map::new())?;
                return Ok(Report::failed(failure));
            }
        };
        let start = start_data(&state);
        let label = loop_label(&state);
        d.frame(depth).loop_ = Some(state);
        d.begin(at, &label, start)?;
    }
    // The frozen list can be long (10 000 items): it stays in the frame and is never cloned.
    let Some(state) = d.frame(depth).loop_.as_ref() else {
        return Ok(Report::failed(missing_loop_state()));
    };
    let (kind, total) = (state.kind, loop_total(state));
    if resumed {
        let label = loop_label(state);
        d.console.heading(at.display, &label);
    }
    let mut iterations = 0u64;
    loop {
        let Some(current) = d.frame(depth).loop_.as_ref() else {
            return Ok(Report::failed(missing_loop_state()));
        };
        if current.break_triggered {
            break;
        }
        if current.iteration >= total {
            if kind == StateLoopKind::Counted && spec.has_break {
                let message = format!(
                    "loop \"{}\" ran all {total} iterations without meeting its break_if condition",
                    at.step.id
                );
                let mut report = Report::failed(Failure::new(ErrorClass::LoopExhausted, message));
                report.data.insert("iterations".into(), json!(iterations));
                return Ok(report);
            }
            break;
        }
        let iteration = current.iteration;
        let item = current.items.as_ref().and_then(|items| {
            usize::try_from(iteration)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
        });
        if d.interrupts.count() > 0 {
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
        let heading = format!("{} > #{}/{total}", at.display, iteration + 1);
        d.console.iteration(&heading, item.as_deref());
        let iteration_path = format!("{}[{iteration}]", at.audit_path);
        let fresh = d.frame(depth).child.is_none();
        if fresh {
            d.audit(
                AuditEvent::IterationStart,
                &iteration_path,
                json!({"iteration": iteration, "item": item, "vars": vars_json(&vars)}),
            )?;
            d.frame(depth).child = Some(Box::new(Frame::pending(0, first_id(&spec.steps))));
            d.save_later();
        }
        let started = std::time::Instant::now();
        let body = at.ctx.loop_body(path, vars);
        let end = d.run_list(&body, &spec.steps).await?;
        iterations += 1;
        let (outcome, finish) = match &end {
            End::Success => ("success", None),
            End::Break => ("success", Some(End::Success)),
            End::Failed(_) => ("failed", Some(end.clone())),
            End::Interrupted => return Ok(Report::new(End::Interrupted)),
        };
        d.audit(
            AuditEvent::IterationEnd,
            &iteration_path,
            json!({"iteration": iteration, "outcome": outcome, "duration_ms": started.elapsed().as_millis() as u64}),
        )?;
        // A failed iteration keeps its frames: a resume re-runs exactly the step that failed.
        if !matches!(end, End::Failed(_)) {
            let frame = d.frame(depth);
            frame.child = None;
            if let Some(looped) = frame.loop_.as_mut() {
                looped.iteration += 1;
                if matches!(end, End::Break) {
                    looped.break_triggered = true;
                }
            }
            d.save_later();
        }
        if let Some(end) = finish {
            let mut report = Report::new(end);
            report.data.insert("iterations".into(), json!(iterations));
            if matches!(report.end, End::Success) {
                report.data.insert("break_triggered".into(), json!(true));
            }
            return Ok(report);
        }
    }
    let mut report = Report::new(End::Success);
    report.data.insert("iterations".into(), json!(iterations));
    Ok(report)
}

/// The number of iterations: the frozen list's length, or `max`.
fn loop_total(state: &LoopFrame) -> u64 {
    state
        .items
        .as_ref()
        .map_or(state.max.unwrap_or(0), |items| items.len() as u64)
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
fn start_data(state: &LoopFrame) -> Map<String, serde_json::Value> {
    let mut start = Map::new();
    match state.kind {
        StateLoopKind::Counted => {
            start.insert("loop_kind".into(), json!("counted"));
            start.insert("max".into(), json!(state.max));
        }
        StateLoopKind::ForEach => {
            let items = state.items.as_deref().unwrap_or_default();
            start.insert("loop_kind".into(), json!("for_each"));
            start.insert("pattern".into(), json!(state.pattern));
            start.insert("match_count".into(), json!(items.len()));
            start.insert(
                "items".into(),
                json!(&items[..items.len().min(AUDIT_ITEMS)]),
            );
        }
    }
    start
}

fn missing_loop_state() -> Failure {
    Failure::new(ErrorClass::Internal, "loop state is missing")
}

/// Renders `max` or expands `over`: the frozen loop state.
fn plan_loop(d: &mut Dispatcher, at: &At<'_>, spec: &LoopStep) -> Result<LoopFrame, Failure> {
    match &spec.kind {
        LoopKind::Counted { max } => {
            let max = match max {
                LoopMax::Fixed(n) => u64::from(*n),
                LoopMax::Template(template) => {
                    let text = d.render(at.ctx, &at.step.id, template)?;
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
            let pattern = d.render(at.ctx, &at.step.id, over)?;
            let items = glob::expand(&pattern, &d.settings.project_dir)
                .map_err(|err| Failure::new(ErrorClass::Glob, err.to_string()))?;
            if items.is_empty() && *require_matches {
                return Err(Failure::new(
                    ErrorClass::Glob,
                    format!(
                        "for-each loop \"{}\" matched no files for pattern \"{pattern}\"",
                        at.step.id
                    ),
                ));
            }
            Ok(LoopFrame {
                kind: StateLoopKind::ForEach,
                pattern: Some(pattern),
                items: Some(items),
                ..LoopFrame::default()
            })
        }
    }
}

fn vars_json(vars: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Object(vars.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn first_id(steps: &[Step]) -> String {
    steps.first().map(|s| s.id.clone()).unwrap_or_default()
}

pub async fn run_group(
    d: &mut Dispatcher,
    at: &At<'_>,
    children: &[Step],
) -> Result<Report, Fatal> {
    let depth = at.ctx.depth;
    if at.resuming {
        d.console.heading(at.display, "group");
    } else {
        d.begin(at, "group", Map::new())?;
    }
    if d.frame(depth).child.is_none() {
        d.frame(depth).child = Some(Box::new(Frame::pending(0, first_id(children))));
        d.save_later();
    }
    let body = at
        .ctx
        .group(at.ctx.path.enter(at.index, at.steps.len(), &at.step.id));
    let end = d.run_list(&body, children).await?;
    Ok(Report::new(end))
}

pub async fn run_sub_workflow(
    d: &mut Dispatcher,
    at: &At<'_>,
    call: &SubWorkflowStep,
) -> Result<Report, Fatal> {
    let depth = at.ctx.depth;
    let existing = if at.resuming {
        d.frame(depth).sub_workflow.clone()
    } else {
        None
    };
    let (workflow, frame) = match existing {
        Some(frame) => match d.loader.reload(&frame) {
            Ok((workflow, changed)) => {
                d.declare_secrets(&workflow, &frame.params);
                if changed {
                    d.warn(
                        at.audit_path,
                        "workflow_changed",
                        &format!(
                            "{} changed since this run started; continuing by step id",
                            frame.source
                        ),
                    );
                }
                d.console.heading(at.display, "sub-workflow");
                (workflow, frame)
            }
            Err(failure) => {
                d.console.heading(at.display, "sub-workflow");
                return Ok(Report::failed(failure));
            }
        },
        None => match prepare_call(d, at, call) {
            Ok((workflow, frame)) => {
                d.declare_secrets(&workflow, &frame.params);
                let start = json!({"source": frame.source, "name": frame.name, "params": d.redact_map(&frame.params)});
                d.frame(depth).sub_workflow = Some(frame.clone());
                d.begin(
                    at,
                    "sub-workflow",
                    start.as_object().cloned().unwrap_or_default(),
                )?;
                (workflow, frame)
            }
            Err(failure) => {
                d.begin(at, "sub-workflow", Map::new())?;
                return Ok(Report::failed(failure));
            }
        },
    };
    d.console
        .detail(&format!("workflow: {} ({})", workflow.name, frame.source));
    let started = std::time::Instant::now();
    if d.frame(depth).child.is_none() {
        d.audit(AuditEvent::SubWorkflowStart, at.audit_path, json!({"source": frame.source, "name": frame.name, "hash": frame.hash, "params": d.redact_map(&frame.params)}))?;
        d.frame(depth).child = Some(Box::new(Frame::pending(0, first_id(&workflow.steps))));
        d.save_later();
    }
    let path = at.ctx.path.enter(at.index, at.steps.len(), &at.step.id);
    if workflow.engine.is_some() {
        // Attaching runs the engine's checks and `validate_workflow`: commands, which must not
        // run before the child list's setup is on disk (Dispatcher::save_later).
        d.flush()?;
    }
    let engine = match attach_own_engine(d, at, &workflow, &frame)? {
        Ok(engine) => engine,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    let body = at.ctx.sub_workflow(workflow.clone(), depth, path, engine);
    let end = match d.run_list(&body, &workflow.steps).await? {
        End::Break => End::Success,
        other => other,
    };
    if !matches!(end, End::Interrupted) {
        let outcome = if matches!(end, End::Success) {
            "success"
        } else {
            "failed"
        };
        d.audit(
            AuditEvent::SubWorkflowEnd,
            at.audit_path,
            json!({"outcome": outcome, "duration_ms": started.elapsed().as_millis() as u64}),
        )?;
    }
    Ok(Report::new(end))
}

/// A sub-workflow with its own `engine:` gets a new instance (checks and `validate_workflow` run
/// on entry); `Ok(None)` shares the caller's.
fn attach_own_engine(
    d: &mut Dispatcher,
    at: &At<'_>,
    workflow: &Arc<crate::workflow::Workflow>,
    frame: &SubWorkflowFrame,
) -> Result<Result<Option<usize>, Failure>, Fatal> {
    let run_dir = Some(d.run_dir.path().to_path_buf());
    match super::engines::attach(
        &d.loader,
        workflow,
        &frame.params,
        &d.doc.run_id.clone(),
        run_dir,
    ) {
        Ok(None) => Ok(Ok(None)),
        Ok(Some(attached)) => {
            for warning in attached.warnings {
                d.warn(at.audit_path, "engine", &warning);
            }
            d.engine_records(at.audit_path, attached.records)?;
            d.engines.push(attached.engine);
            Ok(Ok(Some(d.engines.len() - 1)))
        }
        Err(message) => Ok(Err(Failure::new(ErrorClass::EngineRejected, message))),
    }
}

/// Resolves, loads and validates the called workflow and binds its parameters.
fn prepare_call(
    d: &mut Dispatcher,
    at: &At<'_>,
    call: &SubWorkflowStep,
) -> Result<(Arc<crate::workflow::Workflow>, SubWorkflowFrame), Failure> {
    if at.ctx.chain.len() > MAX_NESTING {
        return Err(Failure::new(
            ErrorClass::SubWorkflow,
            format!("sub-workflows are nested deeper than {MAX_NESTING} levels"),
        ));
    }
    let value = d.render(at.ctx, &at.step.id, &call.workflow)?;
    let workflow = d.loader.load_sub(&value, &at.ctx.workflow.source)?;
    let source = workflow.source.to_string();
    if let Some(start) = at.ctx.chain.iter().position(|s| *s == source) {
        let mut chain: Vec<&str> = at.ctx.chain[start..].iter().map(String::as_str).collect();
        chain.push(&source);
        return Err(Failure::new(
            ErrorClass::SubWorkflow,
            format!("sub-workflow cycle: {}", chain.join(" -> ")),
        ));
    }
    let mut given = Vec::new();
    for (name, template) in &call.params {
        given.push((name.clone(), d.render(at.ctx, &at.step.id, template)?));
    }
    let params = super::subflow::bind_params(
        &workflow,
        given,
        &d.doc.run_id,
        &d.run_dir.path().display().to_string(),
    )?;
    let frame = SubWorkflowFrame {
        source,
        name: workflow.name.clone(),
        hash: workflow.hash.clone(),
        params,
        scope: Default::default(),
    };
    Ok((workflow, frame))
}
