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

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::super::context::{ListCtx, VarsBuilder};
use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::signals::{Halt, Interrupts, SignalName};
use super::super::subflow::Loader;
use super::branch::{BranchCtx, Fork};
use super::event::{Event, StepRef};
use super::step::At;
use super::step::Report;
use super::writer::Writer;
use crate::interpolate::{RenderError, Vars};
use crate::state::{Frame, FrameState, Outcome, Redactor, Skip, SkipIfRecord, SkipReason};
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
    /// `--simulate`: shell and agent steps are answered by these stubs; nothing is spawned.
    pub simulate: Option<Arc<super::super::simulate::Stubs>>,
}

/// What every walker of a run shares: the one writer and the run's settings. Branches of a
/// parallel step run concurrently on the run's one thread, each with its own [`Runtime`] over
/// the same `Shared`; the cells are borrowed only between two `await`s.
pub struct Shared {
    /// The one writer of state, audit log and console.
    pub writer: RefCell<Writer>,
    pub redactor: Arc<Redactor>,
    pub settings: RunSettings,
    pub signal: SignalName,
    pub started: Instant,
    /// Set while the first located step of a resume has not run yet (it gets resume framing).
    pub resuming_step: Cell<bool>,
    pub loader: RefCell<Loader>,
    /// Held for the whole run; released (file deleted) at the end.
    pub lock: RefCell<Option<crate::state::RunLock>>,
    /// The workflow the run started (its name and description frame interactive steps).
    pub root: Arc<crate::workflow::Workflow>,
    /// Attached engine instances; step lists refer to them by index ([`ListCtx::engine`]).
    pub engines: RefCell<Vec<crate::engine::Engine>>,
    /// The agent concurrency caps of the configuration (control.md §8).
    pub slots: super::slots::Slots,
    /// The run directory (fixed for the run).
    pub run_dir: PathBuf,
    /// Halts every parallel branch of the run ([`Runtime::stop_all_branches`]).
    pub halt: Halt,
    /// The run's budgets and what its steps spend (control.md §5), shared by every branch.
    pub budget: Arc<super::super::budget::Tracker>,
}

/// One walker of a run: the top-level walk, or one branch of a parallel step. Executors never
/// see it: they get a [`super::StepCtx`].
pub struct Runtime {
    shared: Rc<Shared>,
    /// Where this walker's frames are, and how it is stopped.
    pub branch: BranchCtx,
    pub interrupts: Interrupts,
    /// The `skip_if: sh:` result of the step about to start, for its `step_start` event.
    pub pending_skip_if: Option<SkipIfRecord>,
}

impl std::ops::Deref for Runtime {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl Runtime {
    /// The top-level walker of a run.
    pub fn new(shared: Shared, interrupts: Interrupts) -> Self {
        Runtime {
            shared: Rc::new(shared),
            branch: BranchCtx::default(),
            interrupts,
            pending_skip_if: None,
        }
    }

    /// A walker for one branch of a parallel step, at `fork`, stopped by `halt`.
    pub(super) fn branch(&self, fork: Fork, label: String, halt: Halt) -> Runtime {
        Runtime {
            shared: self.shared.clone(),
            branch: self.branch.enter(fork, label, halt.clone()),
            interrupts: self.interrupts.with_halt(halt),
            pending_skip_if: None,
        }
    }

    /// Stops every running parallel branch of the run, as a failed sibling under `fail_fast`
    /// would (a crossed run budget); branches started later are stopped at once.
    pub fn stop_all_branches(&self) {
        self.halt.trigger();
    }

    /// What every walker of the run shares (kept alive across an `await`).
    pub(super) fn shared(&self) -> Rc<Shared> {
        self.shared.clone()
    }

    /// The writer, borrowed for reading (never across an `await`).
    pub(super) fn shared_writer(&self) -> Ref<'_, Writer> {
        self.shared.writer.borrow()
    }

    /// The writer, borrowed until the end of the statement (never across an `await`).
    pub fn writer(&self) -> RefMut<'_, Writer> {
        self.shared.writer.borrow_mut()
    }

    /// Reports an event to the run's writer, from where this walker is.
    pub fn emit(&self, event: Event) -> Result<(), RunError> {
        self.writer().emit_in(&self.branch, event)
    }

    /// The frame at `depth` of this walker's chain.
    pub fn frame(&self, depth: usize) -> Option<Ref<'_, Frame>> {
        Ref::filter_map(self.shared.writer.borrow(), |w| {
            w.frame_in(&self.branch.forks, depth)
        })
        .ok()
    }

    /// Calls `f` with the variables a template of step `step_id` in `ctx` sees, read in place.
    fn with_vars<T>(
        &self,
        ctx: &ListCtx,
        step_id: &str,
        f: impl FnOnce(&VarsBuilder<'_>) -> T,
    ) -> T {
        let writer = self.shared.writer.borrow();
        let doc = writer.doc();
        let params = scope_params(&writer, &self.branch.forks, ctx);
        let empty = BTreeMap::new();
        let no_captures = crate::state::Captures::new();
        let captures = writer.captures_in(&self.branch.forks, ctx.scope);
        let captures = captures.as_deref().unwrap_or(&no_captures);
        let session_dir = self.run_dir.display().to_string();
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
                        .writer()
                        .capture_error_in(&self.branch.forks, ctx.scope, name)
                        .map(|why| super::super::steps::shell::unset_capture(name, &why)),
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
        let _ = self.emit(Event::Warning {
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
                if self.interrupts.stopping() {
                    return Ok(End::Interrupted);
                }
                let (resuming, previous) = {
                    let frame = self.frame(ctx.depth);
                    let frame = frame.as_deref();
                    (
                        frame.is_some_and(|f| f.state != FrameState::Pending),
                        frame.and_then(|f| f.previous_outcome),
                    )
                };
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
                    previous_failure: None,
                };
                let started = Instant::now();
                // A budget at its limit first, then `when`, then `skip_if`; a step a resume
                // re-enters is not checked again (but is refused at a limit).
                let refused = self.budget.refusal(&audit_path, step.budget());
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
                        self.emit(Event::Heading {
                            display: display.clone(),
                            label: super::super::labels::kind_label(step),
                        })?;
                        Report::failed(failure)
                    }
                    None => {
                        if let Some(end) = self.run_attempts(&at, started).await? {
                            return Ok(end);
                        }
                        continue;
                    }
                };
                if let Some(end) = self.finish_step(&at, report, started)? {
                    return Ok(end);
                }
            }
        })
    }

    /// The index of the step the frame at this depth points at, checked against its id.
    fn locate(&mut self, ctx: &ListCtx, steps: &[Step]) -> Result<usize, RunError> {
        let mut writer = self.shared.writer.borrow_mut();
        let run_id = writer.doc().run_id.clone();
        let frame = writer.frame_mut_in(&self.branch.forks, ctx.depth);
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
                    &run_id,
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
        match step.skip_if.as_deref() {
            None => Ok(None),
            Some(SkipIf::PreviousSuccess) => {
                if previous != Some(Outcome::Success) {
                    return Ok(None);
                }
                self.emit(Event::Skipped {
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
                if let Some(stubs) = &self.settings.simulate {
                    // Not run: it skips only when a stub says it exits 0.
                    let attempt = self.frame(ctx.depth).map_or(0, |f| f.attempt) + 1;
                    if !stubs.skips(at.audit_path, &step.id, attempt) {
                        return Ok(None);
                    }
                    self.sh_skipped(at, leaf, command, None)?;
                    return Ok(Some(Ok(())));
                }
                // The condition is a command of its own: the previous step's end must be on
                // disk before it runs, or a crash now would run that step again.
                self.emit(Event::Flush)?;
                let mut cx = super::StepCtx::new(self, at);
                let result = super::super::steps::shell::run_condition(&mut cx, &command).await;
                match result {
                    Err(failure) => Ok(Some(Err(failure))),
                    Ok((0, output)) => {
                        self.sh_skipped(at, leaf, command, Some(output))?;
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

    /// A `skip_if: sh:` command exited 0 (`output` is what it printed; `None` under
    /// `--simulate`, where a stub said so): the step is skipped.
    fn sh_skipped(
        &mut self,
        at: &At<'_>,
        leaf: bool,
        command: String,
        output: Option<String>,
    ) -> Result<(), RunError> {
        let shown = self.redactor.redact(&command).into_owned();
        let stub = if output.is_none() { " (stub)" } else { "" };
        self.emit(Event::Skipped {
            display: at.display.to_owned(),
            path: at.audit_path.to_owned(),
            reason: format!("sh: {shown} exited 0{stub}"),
            skip: Skip {
                command: Some(command),
                exit_code: Some(0),
                output,
                ..Skip::because(SkipReason::Sh)
            },
            leaf,
        })?;
        self.record_skipped(at)
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
        self.emit(Event::Advanced {
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

/// The params of a step list's scope, as a walker at `forks` sees it.
pub(super) fn scope_params<'w>(
    writer: &'w Writer,
    forks: &[Fork],
    ctx: &ListCtx,
) -> Option<&'w BTreeMap<String, String>> {
    match ctx.scope {
        super::super::context::ScopeRef::Root => Some(&writer.doc().params),
        super::super::context::ScopeRef::SubWorkflow(depth) => writer
            .frame_in(forks, depth)
            .and_then(|f| f.sub_workflow.as_ref())
            .map(|s| &s.params),
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
