//! Engines in a run: attaching an instance to a scope and calling its hooks at their moments
//! (engines.md §1), with an `engine` audit event for every hook that ran.
//!
//! The root workflow's engine is attached before the run dir exists (its `state_dir` decides
//! where that dir goes). A sub-workflow without `engine:` shares its caller's instance, cache
//! included; one with its own `engine:` gets a new instance. Instances live in the runtime and
//! step lists refer to them by index.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::RunError;
use super::outcome::{ErrorClass, Failure};
use super::run::{Event, StepCtx};
use super::subflow::Loader;
use crate::engine::{self, Engine, EngineContext, EngineError, HookOutcome, HookRecord, StepInfo};
use crate::state::SubWorkflowFrame;
use crate::workflow::{Step, Workflow};

/// An attached engine with what attaching produced: warnings to print, hook records to log.
pub struct Attached {
    pub engine: Engine,
    pub warnings: Vec<String>,
    pub records: Vec<HookRecord>,
}

/// The root workflow's engine at run start, with the run dir its `state_dir` chose.
pub struct RootEngine {
    pub engine: Engine,
    pub state_dir: Option<PathBuf>,
    pub records: Vec<HookRecord>,
}

/// Attaches the engine `workflow` declares, if any: checks, then `validate_workflow`.
/// Warnings are returned for the caller to print; errors and rejections are messages.
pub fn attach(
    loader: &Loader,
    workflow: &Arc<Workflow>,
    params: &BTreeMap<String, String>,
    run_id: &str,
    run_dir: Option<PathBuf>,
) -> Result<Option<Attached>, String> {
    let Some(declared) = &workflow.engine else {
        return Ok(None);
    };
    let project = loader.project();
    let spec = engine::find(&declared.kind, project).map_err(|err| describe(&err))?;
    let info = engine::workflow_info(workflow, loader.files(), project);
    let mut ctx = EngineContext::new(project.dir.clone(), run_id, info);
    ctx.run_dir = run_dir;
    let (mut instance, warnings) =
        Engine::attach(spec, &declared.options, params, ctx).map_err(|err| describe(&err))?;
    let result = instance.validate_workflow();
    let records = result.record.into_iter().collect();
    match result.outcome {
        HookOutcome::Rejected(message) => Err(format!(
            "engine {} rejected workflow \"{}\": {message}",
            instance.name(),
            workflow.name
        )),
        _ => Ok(Some(Attached {
            engine: instance,
            warnings,
            records,
        })),
    }
}

/// An engine error as one message (diagnostics of an invalid engine file included).
fn describe(err: &EngineError) -> String {
    match err {
        EngineError::Invalid { diagnostics, .. } => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            format!("{err}\n{}", lines.join("\n"))
        }
        other => other.to_string(),
    }
}

/// The root engine at run start: attach (exit 3 on errors and rejections), then `state_dir`.
/// Returns the instance, its `state_dir` and the hook records to write once the audit log exists.
pub fn attach_root(
    loader: &Loader,
    workflow: &Arc<Workflow>,
    params: &BTreeMap<String, String>,
    run_id: &str,
    run_dir: Option<PathBuf>,
    want_state_dir: bool,
) -> Result<Option<RootEngine>, RunError> {
    let attached = attach(loader, workflow, params, run_id, run_dir).map_err(RunError::Engine)?;
    let Some(Attached {
        engine: mut instance,
        warnings,
        mut records,
    }) = attached
    else {
        return Ok(None);
    };
    for warning in warnings {
        crate::console::warning(&warning);
    }
    let mut state_dir = None;
    if want_state_dir {
        let result = instance.state_dir();
        records.extend(result.record);
        if let HookOutcome::Ok(Some(dir)) = result.outcome {
            state_dir = Some(dir);
        }
    }
    Ok(Some(RootEngine {
        engine: instance,
        state_dir,
        records,
    }))
}

/// Engine hook records as an event for the audit log (redacted there: argv can contain
/// params).
fn records_event(path: &str, records: impl IntoIterator<Item = HookRecord>) -> Event {
    Event::Engine {
        path: path.to_owned(),
        records: records.into_iter().collect(),
    }
}

/// A sub-workflow with its own `engine:` gets a new instance (checks and `validate_workflow` run
/// on entry); `Ok(None)` shares the caller's.
pub fn attach_own(
    cx: &mut StepCtx<'_, '_>,
    workflow: &Arc<Workflow>,
    frame: &SubWorkflowFrame,
) -> Result<Result<Option<usize>, Failure>, RunError> {
    let run_dir = Some(cx.run_dir().to_path_buf());
    let run_id = cx.run_id().to_owned();
    let attached = attach(&cx.loader(), workflow, &frame.params, &run_id, run_dir);
    match attached {
        Ok(None) => Ok(Ok(None)),
        Ok(Some(attached)) => {
            for warning in attached.warnings {
                cx.warn("engine", &warning);
            }
            cx.emit(records_event(cx.at.audit_path, attached.records))?;
            let mut engines = cx.engines();
            engines.push(attached.engine);
            Ok(Ok(Some(engines.len() - 1)))
        }
        Err(message) => Ok(Err(Failure::new(ErrorClass::EngineRejected, message))),
    }
}

/// `enrich_prompt` for an agent step in a scope with an engine: the block to add, if any,
/// and the console note to print under the step's heading.
pub fn enrich(
    cx: &mut StepCtx<'_, '_>,
    cli: &str,
    continues: bool,
) -> Result<(Option<String>, Option<String>), RunError> {
    let at = cx.at;
    let Some(index) = at.ctx.engine else {
        return Ok((None, None));
    };
    let info = StepInfo::new(at.step, at.audit_path, Some(cli), continues);
    if index >= cx.engines().len() {
        return Ok((None, None));
    }
    // The hook runs a command: the previous step's end must be on disk first
    // (Writer::save_later).
    cx.emit(Event::Flush)?;
    let mut engines = cx.engines();
    let Some(instance) = engines.get_mut(index) else {
        return Ok((None, None));
    };
    let name = instance.name().to_owned();
    let result = instance.enrich_prompt(&info);
    drop(engines);
    cx.emit(records_event(at.audit_path, result.record))?;
    Ok(match result.outcome {
        HookOutcome::Ok(Some(text)) if !text.trim().is_empty() => {
            let note = format!(
                "engine {name}: added {} lines of context",
                text.lines().count()
            );
            (Some(text), Some(note))
        }
        HookOutcome::Error(reason) => (
            None,
            Some(format!(
                "engine {name}: no extra context for this step ({reason})"
            )),
        ),
        _ => (None, None),
    })
}

/// `validate_step` after an agent step succeeded: `Err` when the engine rejects the step.
pub fn check_step(
    cx: &mut StepCtx<'_, '_>,
    step: &Step,
    cli: &str,
    continues: bool,
) -> Result<Result<(), Failure>, RunError> {
    let at = cx.at;
    let Some(index) = at.ctx.engine else {
        return Ok(Ok(()));
    };
    let info = StepInfo::new(step, at.audit_path, Some(cli), continues);
    let mut engines = cx.engines();
    let Some(instance) = engines.get_mut(index) else {
        return Ok(Ok(()));
    };
    let name = instance.name().to_owned();
    let result = instance.validate_step(&info);
    drop(engines);
    cx.emit(records_event(at.audit_path, result.record))?;
    Ok(match result.outcome {
        HookOutcome::Rejected(message) => Err(Failure::new(
            ErrorClass::EngineRejected,
            format!("engine {name} rejected the step: {message}"),
        )),
        _ => Ok(()),
    })
}
