//! Walking the step tree: the [`Runtime`] of a run and its step-list loop.
//!
//! Theory of operation. The position in `state.json` is a chain of frames, one per active step
//! list. The runtime runs a list at depth `d` by reading frame `d` (its index, state and
//! previous outcome), so a fresh run and a resumed run take the same path: a fresh list starts
//! with a pending frame at index 0, a resumed one with the frame that was saved. For each step it
//! evaluates `skip_if`, hands the step to the executor for its kind through a
//! [`super::StepCtx`] (containers come back here for their child list at `d + 1`: the one cycle
//! of the runtime), then records the outcome, applies `continue_on_failure` / `break_if`, and
//! moves the frame to the next sibling ([`super::step`]). Every change goes through the
//! [`Writer`]; that move's journal record is flushed while the walker goes on to the next step
//! (see [`Writer::save_later`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::super::context::{ListCtx, VarsBuilder};
use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::signals::{Interrupts, SignalName};
use super::super::subflow::Loader;
use super::event::{Event, StepRef};
use super::step::At;
use super::step::Report;
use super::writer::Writer;
use crate::interpolate::{RenderError, Vars};
use crate::state::{FrameState, Outcome, Redactor, Skip, SkipIfRecord, SkipReason};
use crate::workflow::{SkipIf, Step, StepKind, Template};

/// A boxed future: the step tree is walked recursively.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Run-wide settings that do not change while it runs.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub project_dir: PathBuf,
    pub shell: String,
    pub quiet: bool,
    pub verbose: bool,
    /// The runner's own executable, for agents that call `agent-runner step continue`.
    pub runner_exe: PathBuf,
}

/// Everything a run holds while it walks its steps. Executors never see it: they get a
/// [`super::StepCtx`].
pub struct Runtime {
    /// The one writer of state, audit log and console.
    pub writer: Writer,
    pub redactor: Arc<Redactor>,
    pub settings: RunSettings,
    pub interrupts: Interrupts,
    pub signal: SignalName,
    pub started: Instant,
    /// Set while the first located step of a resume has not run yet (it gets resume framing).
    pub resuming_step: bool,
    pub loader: Loader,
    /// The `skip_if: sh:` result of the step about to start, for its `step_start` event.
    pub pending_skip_if: Option<SkipIfRecord>,
    /// Held for the whole run; released (file deleted) at the end.
    pub lock: Option<crate::state::RunLock>,
    /// The workflow the run started (its name and description frame interactive steps).
    pub root: Arc<crate::workflow::Workflow>,
    /// Attached engine instances; step lists refer to them by index ([`ListCtx::engine`]).
    pub engines: Vec<crate::engine::Engine>,
    /// The run's budgets and what its steps spend (control.md §5).
    pub budget: Arc<super::super::budget::Tracker>,
}

impl Runtime {
    /// Calls `f` with the variables a template of step `step_id` in `ctx` sees, read in place.
    fn with_vars<T>(
        &self,
        ctx: &ListCtx,
        step_id: &str,
        f: impl FnOnce(&VarsBuilder<'_>) -> T,
    ) -> T {
        let doc = self.writer.doc();
        let params = self.scope_params(ctx);
        let empty = BTreeMap::new();
        let no_captures = crate::state::Captures::new();
        let captures = self
            .writer
            .scope(ctx.scope)
            .map_or(&no_captures, |scope| &scope.captures);
        let session_dir = self.writer.run_dir().path().display().to_string();
        f(&VarsBuilder {
            builtins: [
                ("session_dir", &session_dir),
                ("run_id", &doc.run_id),
                ("step_id", step_id),
                ("workflow_name", &ctx.workflow.name),
            ],
            params: params.unwrap_or(&empty),
            captures,
            capture_names: &ctx.capture_names,
            loop_vars: &ctx.loop_vars,
        })
    }

    /// The parameters of the scope of `ctx`.
    pub(super) fn scope_params(&self, ctx: &ListCtx) -> Option<&BTreeMap<String, String>> {
        match ctx.scope {
            super::super::context::ScopeRef::Root => Some(&self.writer.doc().params),
            super::super::context::ScopeRef::SubWorkflow(depth) => self
                .writer
                .frame(depth)
                .and_then(|f| f.sub_workflow.as_ref())
                .map(|s| &s.params),
        }
    }

    /// The variables a template of step `step_id` in `ctx` sees, copied.
    pub fn vars(&self, ctx: &ListCtx, step_id: &str) -> Vars {
        self.with_vars(ctx, step_id, |vars| vars.build())
    }

    /// Renders a template for step `step_id`; an unset capture or bad template fails the step.
    /// The template looks up the few variables it uses in place: nothing is copied.
    pub fn render(
        &self,
        ctx: &ListCtx,
        step_id: &str,
        template: &Template,
    ) -> Result<String, Failure> {
        self.with_vars(ctx, step_id, |vars| vars.render(template))
            .map_err(|err| {
                match &err {
                    RenderError::NoValue(name) => self
                        .writer
                        .scope(ctx.scope)
                        .and_then(|scope| scope.capture_errors.get(name))
                        .map(|why| super::super::steps::shell::unset_capture(name, why)),
                    _ => None,
                }
                .unwrap_or_else(|| render_failure(err))
            })
    }

    /// A string map with every value redacted, for events and console output.
    pub fn redact_map(&self, map: &BTreeMap<String, String>) -> Value {
        Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), json!(self.redactor.redact(v))))
                .collect(),
        )
    }

    /// A warning of the run: printed, and recorded as a `warning` audit event.
    pub fn warn(&mut self, path: &str, code: &str, message: &str) {
        let _ = self.writer.emit(Event::Warning {
            path: path.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            shown: true,
        });
    }

    /// The first interrupting signal's name (`abort` for `/abort`).
    pub fn signal_name(&self) -> &'static str {
        self.signal
            .0
            .lock()
            .ok()
            .and_then(|slot| *slot)
            .unwrap_or("SIGINT")
    }

    // ----- the step list -----

    /// Runs the list of `steps` whose frame is at `ctx.depth`, from the frame's index on.
    pub fn run_list<'a>(
        &'a mut self,
        ctx: &'a ListCtx,
        steps: &'a [Step],
    ) -> BoxFuture<'a, Result<End, RunError>> {
        Box::pin(async move {
            loop {
                let index = self.locate(ctx, steps)?;
                let Some(step) = steps.get(index) else {
                    return Ok(End::Success);
                };
                if self.interrupts.count() > 0 {
                    return Ok(End::Interrupted);
                }
                let frame = self.writer.frame_mut(ctx.depth);
                let resuming = frame.state != FrameState::Pending;
                let previous = frame.previous_outcome;
                let display = ctx.path.display_of(index, steps.len(), &step.id);
                let audit_path = ctx.path.audit_of(&step.id);
                let at = At {
                    ctx,
                    steps,
                    index,
                    step,
                    display: &display,
                    audit_path: &audit_path,
                    resuming,
                };
                let started = Instant::now();
                // A budget at its limit first, then `when`, then `skip_if`; a step a resume
                // re-enters is not checked again (but is refused at a limit).
                let refused = self.budget.refusal(&audit_path);
                let checked = match (refused, resuming) {
                    (Some(why), _) => Some(Err(Failure::new(ErrorClass::Budget, why))),
                    (None, true) => None,
                    (None, false) => match self.check_when(&at)? {
                        None => self.check_skip(&at, previous).await?,
                        decided => decided,
                    },
                };
                let report = match checked {
                    Some(Ok(())) => {
                        self.advance(&at, previous)?;
                        continue;
                    }
                    Some(Err(failure)) if failure.class == ErrorClass::Interrupted => {
                        return Ok(End::Interrupted);
                    }
                    Some(Err(failure)) => {
                        self.writer.emit(Event::Heading {
                            display: display.clone(),
                            label: super::super::labels::kind_label(step),
                        })?;
                        Report::failed(failure)
                    }
                    None => self.run_step(&at).await?,
                };
                if let Some(end) = self.finish_step(&at, report, started)? {
                    return Ok(end);
                }
            }
        })
    }

    /// The index of the step the frame at this depth points at, checked against its id.
    fn locate(&mut self, ctx: &ListCtx, steps: &[Step]) -> Result<usize, RunError> {
        let frame = self.writer.frame_mut(ctx.depth);
        let index = frame.index;
        if frame.state == FrameState::Pending && frame.step_id.is_empty() {
            if let Some(first) = steps.get(index) {
                frame.step_id = first.id.clone();
            }
            return Ok(index);
        }
        if steps.get(index).is_some_and(|s| s.id == frame.step_id)
            || index >= steps.len() && frame.step_id.is_empty()
        {
            return Ok(index);
        }
        match steps.iter().position(|s| s.id == frame.step_id) {
            Some(found) => {
                frame.index = found;
                Ok(found)
            }
            None => {
                let missing = frame.step_id.clone();
                Err(super::super::from::missing_step(
                    &missing,
                    &ctx.workflow.source,
                    &self.writer.doc().run_id,
                ))
            }
        }
    }

    /// Evaluates `skip_if`. `Some(Ok(()))` = skipped (events written), `Some(Err(_))` = the
    /// condition itself failed the step, `None` = run the step.
    async fn check_skip(
        &mut self,
        at: &At<'_>,
        previous: Option<Outcome>,
    ) -> Result<Option<Result<(), Failure>>, RunError> {
        let (ctx, step) = (at.ctx, at.step);
        let leaf = matches!(step.kind, StepKind::Shell(_) | StepKind::Agent(_));
        match &step.skip_if {
            None => Ok(None),
            Some(SkipIf::PreviousSuccess) => {
                if previous != Some(Outcome::Success) {
                    return Ok(None);
                }
                self.writer.emit(Event::Skipped {
                    display: at.display.to_owned(),
                    path: at.audit_path.to_owned(),
                    reason: "previous step succeeded".to_owned(),
                    skip: Skip::because(SkipReason::PreviousSuccess),
                    leaf,
                })?;
                self.record_skipped(at)?;
                Ok(Some(Ok(())))
            }
            Some(SkipIf::Shell(template)) => {
                let command = match self.render(ctx, &step.id, template) {
                    Ok(command) => command,
                    Err(failure) => return Ok(Some(Err(failure))),
                };
                // The condition is a command of its own: the previous step's end must be on
                // disk before it runs, or a crash now would run that step again.
                self.writer.emit(Event::Flush)?;
                let mut cx = super::StepCtx::new(self, at);
                let result = super::super::steps::shell::run_condition(&mut cx, &command).await;
                match result {
                    Err(failure) => Ok(Some(Err(failure))),
                    Ok((0, output)) => {
                        let shown = self.redactor.redact(&command).into_owned();
                        self.writer.emit(Event::Skipped {
                            display: at.display.to_owned(),
                            path: at.audit_path.to_owned(),
                            reason: format!("sh: {shown} exited 0"),
                            skip: Skip {
                                command: Some(command),
                                exit_code: Some(0),
                                output: Some(output),
                                ..Skip::because(SkipReason::Sh)
                            },
                            leaf,
                        })?;
                        self.record_skipped(at)?;
                        Ok(Some(Ok(())))
                    }
                    Ok((code, _)) => {
                        self.pending_skip_if = Some(SkipIfRecord {
                            command,
                            exit_code: code,
                        });
                        Ok(None)
                    }
                }
            }
        }
    }

    /// Moves the frame of this step's list to the next sibling; the next write saves it.
    pub(super) fn advance(
        &mut self,
        at: &At<'_>,
        previous: Option<Outcome>,
    ) -> Result<(), RunError> {
        let next_id = at
            .steps
            .get(at.index + 1)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        self.writer.emit(Event::Advanced {
            depth: at.ctx.depth,
            index: at.index + 1,
            step_id: next_id,
            previous,
        })
    }

    /// Where `at` is, for events.
    pub(super) fn step_ref(at: &At<'_>) -> StepRef {
        StepRef {
            depth: at.ctx.depth,
            display: at.display.to_owned(),
            path: at.audit_path.to_owned(),
        }
    }
}

fn render_failure(err: RenderError) -> Failure {
    let class = match err {
        RenderError::NoValue(_) | RenderError::Undefined(_) | RenderError::NoField { .. } => {
            ErrorClass::UndefinedVariable
        }
        RenderError::Template(_) => ErrorClass::Internal,
    };
    Failure::new(class, err.to_string())
}
