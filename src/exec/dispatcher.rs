//! The dispatcher: owns the run and walks the step tree.
//!
//! Theory of operation. The position in `state.json` is a chain of frames, one per active step
//! list. The dispatcher runs a list at depth `d` by reading frame `d` (its index, state and
//! previous outcome), so a fresh run and a resumed run take the same path: a fresh list starts
//! with a pending frame at index 0, a resumed one with the frame that was saved. For each step it
//! evaluates `skip_if`, marks the frame running and saves, hands the step to its executor
//! (containers recurse into their child list at `d + 1`), then records the outcome, applies
//! `continue_on_failure` / `break_if`, and moves the frame to the next sibling. That move is
//! written together with the next step's start (see [`Dispatcher::save_later`] for why this is
//! as crash-safe as two writes). Executors never touch the state: only this module writes
//! `state.json` and the audit log.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::context::{ListCtx, ScopeRef, VarsBuilder};
use super::outcome::{End, ErrorClass, Failure};
use super::signals::Interrupts;
use super::step::{At, Report};
use crate::console::Console;
use crate::interpolate::{RenderError, Vars};
use crate::state::{
    AuditEvent, AuditWriter, Frame, FrameState, Outcome, Redactor, RunDir, Scope, StateDoc,
    StringMap,
};
use crate::workflow::{BreakIf, SkipIf, Step, StepKind, Template};

/// An error that ends the run at once, outside the step-failure rules (exit code + message).
#[derive(Debug)]
pub struct Fatal {
    pub code: i32,
    pub message: String,
}

impl Fatal {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Fatal {
            code,
            message: message.into(),
        }
    }
}

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

/// Counts for the final summary (shell and agent steps only).
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub ok: u64,
    pub skipped: u64,
    pub failed_continued: u64,
}

pub struct Dispatcher {
    pub doc: StateDoc,
    pub run_dir: RunDir,
    pub audit: AuditWriter,
    pub redactor: Arc<Redactor>,
    pub console: Console,
    pub settings: RunSettings,
    pub interrupts: Interrupts,
    pub signal: super::signals::SignalName,
    pub counts: Counts,
    pub usage: super::usage::UsageTotals,
    pub started: Instant,
    /// Set while the first located step of a resume has not run yet (it gets resume framing).
    pub resuming_step: bool,
    pub loader: super::subflow::Loader,
    /// The `skip_if: sh:` result of the step about to start, for its `step_start` event.
    pub pending_skip_if: Option<Value>,
    /// Held for the whole run; released (file deleted) at the end.
    pub lock: Option<crate::state::RunLock>,
    /// The workflow the run started (its name and description frame interactive steps).
    pub root: Arc<crate::workflow::Workflow>,
    /// Attached engine instances; step lists refer to them by index ([`ListCtx::engine`]).
    pub engines: Vec<crate::engine::Engine>,
    /// The document has changes that [`Dispatcher::save_later`] left for the next write.
    pub unsaved: bool,
}

impl Dispatcher {
    // ----- state -----

    /// Saves the whole document atomically, then writes the held audit events and syncs the log
    /// (see [`RunDir::write_state_and_sync`]); a failure ends the run with exit 4.
    pub fn save(&mut self) -> Result<(), Fatal> {
        self.doc.touch();
        self.unsaved = false;
        tracing::trace!(position = ?self.doc.position_path(), status = %self.doc.status, "saving state");
        self.run_dir
            .write_state_and_sync(&self.doc, &mut self.audit)
            .map_err(|err| Fatal::new(crate::exit::RUNTIME, err.to_string()))
    }

    /// Records that the document changed, for the next [`Dispatcher::save`] to write; the audit
    /// events that follow are held back until then (they must not describe a state that is not
    /// on disk: a recorded success is never run again).
    ///
    /// Why this keeps the guarantees of runs-and-state.md §4. It is used for the writes that
    /// move the position *between* steps (a step's end, a loop's iteration boundary, a container
    /// setting up its child list, the resume start): after each of them the dispatcher runs
    /// nothing outside the process before the next write, which is at the latest the next
    /// step's start (`begin` always saves, and releases the held `step_start` before the step
    /// runs), the end of the run (`finish` always saves), or [`Dispatcher::flush`] before a
    /// command that is not a step (`skip_if: sh:`, an engine hook). So when a step starts,
    /// state.json already says so, fsynced, exactly as before. The intermediate write was only
    /// observable by a crash in between, and such a crash now finds the previous state and a log
    /// without the held events: the step that had just ended runs again, as after a crash a
    /// moment earlier, between its exit and its end write. Folding the end of step i into the
    /// start of step i+1 halves the state writes of a run of shell steps, and a loop iteration
    /// with one body step needs one write instead of four.
    pub fn save_later(&mut self) {
        self.unsaved = true;
        self.audit.hold();
    }

    /// Writes the changes [`Dispatcher::save_later`] left, if any. Call before running any
    /// command that is not preceded by a save of its own (`skip_if: sh:`, engine hooks).
    pub fn flush(&mut self) -> Result<(), Fatal> {
        if self.unsaved { self.save() } else { Ok(()) }
    }

    /// Appends an audit event and returns its `seq`.
    pub fn audit(&mut self, event: AuditEvent, path: &str, data: Value) -> Result<u64, Fatal> {
        self.audit
            .append(event, path, data)
            .map_err(|err| Fatal::new(crate::exit::RUNTIME, err.to_string()))
    }

    /// The frame of the step list at `depth`. The chain always reaches `depth` while that list runs.
    pub fn frame(&mut self, depth: usize) -> &mut Frame {
        let mut frame = self.doc.position.get_or_insert_with(Frame::default);
        for _ in 0..depth {
            frame = frame.child.get_or_insert_with(Box::default);
        }
        frame
    }

    pub fn scope(&mut self, scope: ScopeRef) -> &mut Scope {
        match scope {
            ScopeRef::Root => &mut self.doc.scope,
            ScopeRef::SubWorkflow(depth) => {
                &mut self
                    .frame(depth)
                    .sub_workflow
                    .get_or_insert_with(Default::default)
                    .scope
            }
        }
    }

    fn scope_params(&mut self, scope: ScopeRef) -> BTreeMap<String, String> {
        match scope {
            ScopeRef::Root => self.doc.params.clone(),
            ScopeRef::SubWorkflow(depth) => self
                .frame(depth)
                .sub_workflow
                .as_ref()
                .map(|s| s.params.clone())
                .unwrap_or_default(),
        }
    }

    /// The variables a template of step `step_id` in `ctx` sees.
    pub fn vars(&mut self, ctx: &ListCtx, step_id: &str) -> Vars {
        let params = self.scope_params(ctx.scope);
        let captures = self.scope(ctx.scope).captures.clone();
        let session_dir = self.run_dir.path().display().to_string();
        let run_id = self.doc.run_id.clone();
        VarsBuilder {
            builtins: [
                ("session_dir", &session_dir),
                ("run_id", &run_id),
                ("step_id", step_id),
                ("workflow_name", &ctx.workflow.name),
            ],
            params: &params,
            captures: &captures,
            capture_names: &ctx.capture_names,
            loop_vars: &ctx.loop_vars,
        }
        .build()
    }

    /// Renders a template for step `step_id`; an unset capture or bad template fails the step.
    /// The template looks up the few variables it uses in place: nothing is copied.
    pub fn render(
        &self,
        ctx: &ListCtx,
        step_id: &str,
        template: &Template,
    ) -> Result<String, Failure> {
        let (params, scope) = self.scope_values(ctx.scope);
        static NO_CAPTURES: StringMap = StringMap::new();
        let session_dir = self.run_dir.path().display().to_string();
        VarsBuilder {
            builtins: [
                ("session_dir", &session_dir),
                ("run_id", &self.doc.run_id),
                ("step_id", step_id),
                ("workflow_name", &ctx.workflow.name),
            ],
            params,
            captures: scope.map_or(&NO_CAPTURES, |scope| &scope.captures),
            capture_names: &ctx.capture_names,
            loop_vars: &ctx.loop_vars,
        }
        .render(template)
        .map_err(|err| {
            match &err {
                RenderError::NoValue(name) => {
                    let known = scope.and_then(|scope| scope.capture_errors.get(name));
                    known.map(|why| super::leaf::unset_capture(name, why))
                }
                _ => None,
            }
            .unwrap_or_else(|| render_failure(err))
        })
    }

    /// The params and the scope (captures) of `scope`, read-only: no params and no scope for a
    /// sub-workflow whose frame does not hold them (yet).
    fn scope_values(&self, scope: ScopeRef) -> (&StringMap, Option<&Scope>) {
        static NO_PARAMS: StringMap = StringMap::new();
        match scope {
            ScopeRef::Root => (&self.doc.params, Some(&self.doc.scope)),
            ScopeRef::SubWorkflow(depth) => {
                let mut frame = self.doc.position.as_ref();
                for _ in 0..depth {
                    frame = frame.and_then(|f| f.child.as_deref());
                }
                match frame.and_then(|f| f.sub_workflow.as_ref()) {
                    Some(sub) => (&sub.params, Some(&sub.scope)),
                    None => (&NO_PARAMS, None),
                }
            }
        }
    }

    // ----- the step list -----

    /// Runs the list of `steps` whose frame is at `ctx.depth`, from the frame's index on.
    pub fn run_list<'a>(
        &'a mut self,
        ctx: &'a ListCtx,
        steps: &'a [Step],
    ) -> BoxFuture<'a, Result<End, Fatal>> {
        Box::pin(async move {
            loop {
                let index = self.locate(ctx, steps)?;
                let Some(step) = steps.get(index) else {
                    return Ok(End::Success);
                };
                if self.interrupts.count() > 0 {
                    return Ok(End::Interrupted);
                }
                let frame = self.frame(ctx.depth);
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
                let report = match if resuming {
                    None
                } else {
                    self.check_skip(&at, previous).await?
                } {
                    Some(Ok(())) => {
                        if matches!(step.kind, StepKind::Shell(_) | StepKind::Agent(_)) {
                            self.counts.skipped += 1;
                        }
                        self.advance(ctx, steps, index, previous);
                        continue;
                    }
                    Some(Err(failure)) if failure.class == ErrorClass::Interrupted => {
                        return Ok(End::Interrupted);
                    }
                    Some(Err(failure)) => {
                        self.console
                            .heading(&display, &super::labels::kind_label(step));
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
    fn locate(&mut self, ctx: &ListCtx, steps: &[Step]) -> Result<usize, Fatal> {
        let frame = self.frame(ctx.depth);
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
                Err(super::from::missing_step(
                    &missing,
                    &ctx.workflow.source,
                    &self.doc.run_id,
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
    ) -> Result<Option<Result<(), Failure>>, Fatal> {
        let (ctx, step, display, audit_path) = (at.ctx, at.step, at.display, at.audit_path);
        match &step.skip_if {
            None => Ok(None),
            Some(SkipIf::PreviousSuccess) => {
                if previous != Some(Outcome::Success) {
                    return Ok(None);
                }
                self.console.skipped(display, "previous step succeeded");
                self.audit(
                    AuditEvent::Skip,
                    audit_path,
                    json!({"reason": "previous_success"}),
                )?;
                Ok(Some(Ok(())))
            }
            Some(SkipIf::Shell(template)) => {
                let command = match self.render(ctx, &step.id, template) {
                    Ok(command) => command,
                    Err(failure) => return Ok(Some(Err(failure))),
                };
                // The condition is a command of its own: the previous step's end must be on
                // disk before it runs, or a crash now would run that step again.
                self.flush()?;
                let result = super::leaf::run_condition(self, at, &command).await?;
                match result {
                    Err(failure) => Ok(Some(Err(failure))),
                    Ok((0, output)) => {
                        let shown = self.redactor.redact(&command).into_owned();
                        self.console
                            .skipped(display, &format!("sh: {shown} exited 0"));
                        self.audit(
                            AuditEvent::Skip,
                            audit_path,
                            json!({"reason": "sh", "command": command, "exit_code": 0, "output": output}),
                        )?;
                        Ok(Some(Ok(())))
                    }
                    Ok((code, _)) => {
                        self.pending_skip_if = Some(json!({"command": command, "exit_code": code}));
                        Ok(None)
                    }
                }
            }
        }
    }

    /// Moves the frame at this depth to the next sibling; the next write saves it.
    pub(super) fn advance(
        &mut self,
        ctx: &ListCtx,
        steps: &[Step],
        index: usize,
        previous: Option<Outcome>,
    ) {
        let next_id = steps
            .get(index + 1)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let frame = self.frame(ctx.depth);
        *frame = Frame {
            previous_outcome: previous,
            ..Frame::pending(index + 1, next_id)
        };
        self.save_later();
    }
}

fn render_failure(err: RenderError) -> Failure {
    let class = match err {
        RenderError::NoValue(_) | RenderError::Undefined(_) => ErrorClass::UndefinedVariable,
        RenderError::Template(_) => ErrorClass::Internal,
    };
    Failure::new(class, err.to_string())
}

/// What `break_if` does with an outcome.
pub fn breaks(step: &Step, end: &End) -> bool {
    matches!(
        (step.break_if, end),
        (Some(BreakIf::Success), End::Success) | (Some(BreakIf::Failure), End::Failed(_))
    )
}

impl Dispatcher {
    /// A warning: printed, and recorded as a `warning` audit event.
    pub fn warn(&mut self, path: &str, code: &str, message: &str) {
        self.console.warning(message);
        let _ = self.audit(
            AuditEvent::Warning,
            path,
            json!({"code": code, "message": message}),
        );
    }

    /// A string map with every value redacted, for events and console output.
    pub fn redact_map(&self, map: &BTreeMap<String, String>) -> Value {
        Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), json!(self.redactor.redact(v))))
                .collect(),
        )
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
}
