//! Sub-workflow calls: load and check the called file, bind its params, give it its own scope
//! (and engine, when it declares one), and run its steps as a child step list.

use std::sync::Arc;

use super::super::engines;
use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::run::{Event, Report, StepCtx};
use super::super::secrets;
use super::first_id;
use crate::state::{StepOutcome, StepStart, SubWorkflowEnd, SubWorkflowFrame, SubWorkflowStart};
use crate::workflow::{SubWorkflowStep, Workflow};

/// The workflow of a call a resume continues (the loader's borrow ends here).
fn reload(
    cx: &mut StepCtx<'_, '_>,
    frame: &SubWorkflowFrame,
) -> Result<(Arc<Workflow>, bool), Failure> {
    cx.loader().reload(frame)
}

/// Deepest allowed chain of sub-workflow calls.
const MAX_NESTING: usize = 32;

pub async fn run(cx: &mut StepCtx<'_, '_>, call: &SubWorkflowStep) -> Result<Report, RunError> {
    let at = cx.at;
    let depth = at.ctx.depth;
    let existing = if at.resuming {
        cx.frame().and_then(|f| f.sub_workflow.clone())
    } else {
        None
    };
    let heading = |cx: &mut StepCtx<'_, '_>| {
        cx.emit(Event::Heading {
            display: at.display.to_owned(),
            label: "sub-workflow".to_owned(),
        })
    };
    let (workflow, frame) = match existing {
        Some(frame) => match reload(cx, &frame) {
            Ok((workflow, changed)) => {
                declare_secrets(cx, &workflow, &frame)?;
                if changed {
                    cx.warn(
                        "workflow_changed",
                        &format!(
                            "{} changed since this run started; continuing by step id",
                            frame.source
                        ),
                    );
                }
                heading(cx)?;
                (workflow, frame)
            }
            Err(failure) => {
                heading(cx)?;
                return Ok(Report::failed(failure));
            }
        },
        None => match prepare_call(cx, call) {
            Ok((workflow, frame)) => {
                declare_secrets(cx, &workflow, &frame)?;
                let start = StepStart {
                    source: Some(frame.source.clone()),
                    name: Some(frame.name.clone()),
                    params: Some(redacted_params(cx, &frame)),
                    ..StepStart::default()
                };
                cx.emit(Event::SubWorkflowEntered {
                    depth,
                    call: frame.clone(),
                })?;
                cx.start("sub-workflow", start)?;
                (workflow, frame)
            }
            Err(failure) => {
                cx.start("sub-workflow", StepStart::default())?;
                return Ok(Report::failed(failure));
            }
        },
    };
    cx.emit(Event::Detail(format!(
        "workflow: {} ({})",
        workflow.name, frame.source
    )))?;
    let started = std::time::Instant::now();
    if cx.frame().is_none_or(|f| f.child.is_none()) {
        let record = SubWorkflowStart {
            source: Some(frame.source.clone()),
            name: Some(frame.name.clone()),
            hash: Some(frame.hash.clone()),
            params: redacted_params(cx, &frame),
        };
        cx.emit(Event::SubWorkflowStarted {
            depth,
            path: at.audit_path.to_owned(),
            first_id: first_id(&workflow.steps),
            record,
        })?;
    }
    let path = at.ctx.path.enter(at.index, at.steps.len(), &at.step.id);
    if workflow.engine.is_some() {
        // Attaching runs the engine's checks and `validate_workflow`: commands, which must not
        // run before the child list's setup is on disk (Writer::save_later).
        cx.emit(Event::Flush)?;
    }
    // A simulation runs no engine hook.
    let engine = match cx.settings().simulate {
        Some(_) => None,
        None => match engines::attach_own(cx, &workflow, &frame)? {
            Ok(engine) => engine,
            Err(failure) => return Ok(Report::failed(failure)),
        },
    };
    let body = at.ctx.sub_workflow(workflow.clone(), depth, path, engine);
    let _scope = super::budget_scope(cx, workflow.budget);
    let end = match cx.run_list(&body, &workflow.steps).await? {
        End::Break => End::Success,
        other => other,
    };
    if !matches!(end, End::Interrupted) {
        let outcome = if matches!(end, End::Success) {
            StepOutcome::Success
        } else {
            StepOutcome::Failed
        };
        cx.emit(Event::SubWorkflowEnded {
            path: at.audit_path.to_owned(),
            record: SubWorkflowEnd {
                outcome: Some(outcome),
                duration_ms: Some(started.elapsed().as_millis() as u64),
            },
        })?;
    }
    Ok(Report::new(end))
}

/// Hides the secret params of the called workflow everywhere from now on.
fn declare_secrets(
    cx: &mut StepCtx<'_, '_>,
    workflow: &Workflow,
    frame: &SubWorkflowFrame,
) -> Result<(), RunError> {
    let values = secrets::secret_values(workflow, &frame.params)
        .into_iter()
        .map(str::to_owned)
        .collect();
    cx.emit(Event::SecretsDeclared { values })
}

/// The call's params as they may be logged.
fn redacted_params(
    cx: &StepCtx<'_, '_>,
    frame: &SubWorkflowFrame,
) -> serde_json::Map<String, serde_json::Value> {
    match cx.redact_map(&frame.params) {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Resolves, loads and validates the called workflow and binds its parameters.
fn prepare_call(
    cx: &mut StepCtx<'_, '_>,
    call: &SubWorkflowStep,
) -> Result<(Arc<Workflow>, SubWorkflowFrame), Failure> {
    let at = cx.at;
    if at.ctx.chain.len() > MAX_NESTING {
        return Err(Failure::new(
            ErrorClass::SubWorkflow,
            format!("sub-workflows are nested deeper than {MAX_NESTING} levels"),
        ));
    }
    let value = cx.render(&call.workflow)?;
    let workflow = cx.loader().load_sub(&value, &at.ctx.workflow.source)?;
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
        given.push((name.clone(), cx.render(template)?));
    }
    let params = super::super::subflow::bind_params(
        &workflow,
        given,
        &cx.run_id(),
        &cx.run_dir().display().to_string(),
    )?;
    let frame = SubWorkflowFrame {
        source,
        name: workflow.name.clone(),
        hash: workflow.hash.as_str().to_owned(),
        params,
        scope: Default::default(),
    };
    Ok((workflow, frame))
}
