//! The narrow context an executor gets to run one step: where the step is, read access to what
//! it needs (its frame, its scope, the run's settings), template rendering, and [`StepCtx::emit`]
//! to report what happened. It never hands out the runtime or the writer: every change of the
//! run's truth is an [`Event`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::context::{ListCtx, ScopeRef};
use super::super::error::RunError;
use super::super::outcome::{End, Failure};
use super::super::signals::Interrupts;
use super::super::subflow::Loader;
use super::event::{Event, StepRef};
use super::step::At;
use super::walk::{BoxFuture, RunSettings, Runtime};
use crate::config::Config;
use crate::interpolate::Vars;
use crate::state::{Frame, Redactor, Scope, StateDoc, StepStart};
use crate::workflow::{Step, Template, Workflow};

/// What an executor may see and do while it runs one step.
pub struct StepCtx<'r, 'a> {
    pub at: &'a At<'a>,
    rt: &'r mut Runtime,
}

impl<'r, 'a> StepCtx<'r, 'a> {
    pub(super) fn new(rt: &'r mut Runtime, at: &'a At<'a>) -> Self {
        StepCtx { at, rt }
    }

    /// The same context for another step at the same place (a reopened agent step).
    pub fn with_step<'b>(&'b mut self, at: &'b At<'b>) -> StepCtx<'b, 'b> {
        StepCtx {
            at,
            rt: &mut *self.rt,
        }
    }

    // ----- reporting -----

    /// Reports an event to the run's writer.
    pub fn emit(&mut self, event: Event) -> Result<(), RunError> {
        self.rt.writer.emit(event)
    }

    /// The step starts (heading `label`, `step_start` with `start`); returns its `seq`, which
    /// names the step's output files.
    pub fn start(&mut self, label: &str, mut start: StepStart) -> Result<u64, RunError> {
        start.kind = Some(super::step::kind_name(self.at.step));
        start.skip_if = self.rt.pending_skip_if.take();
        let seq = self.rt.writer.next_seq();
        self.emit(Event::StepStarted {
            step: self.step_ref(),
            label: label.to_owned(),
            start: Box::new(start),
        })?;
        Ok(seq)
    }

    /// Where this step is, for events.
    pub fn step_ref(&self) -> StepRef {
        Runtime::step_ref(self.at)
    }

    /// A warning about this step: printed, and logged.
    pub fn warn(&mut self, code: &str, message: &str) {
        self.rt.warn(self.at.audit_path, code, message);
    }

    // ----- rendering -----

    /// Renders a template of this step; an unset capture or a bad template fails the step.
    pub fn render(&self, template: &Template) -> Result<String, Failure> {
        self.rt.render(self.at.ctx, &self.at.step.id, template)
    }

    /// The variables this step's templates see.
    pub fn vars(&self) -> Vars {
        self.rt.vars(self.at.ctx, &self.at.step.id)
    }

    /// A string map with every value redacted.
    pub fn redact_map(
        &self,
        map: &std::collections::BTreeMap<String, String>,
    ) -> serde_json::Value {
        self.rt.redact_map(map)
    }

    // ----- reading -----

    /// This step's frame.
    pub fn frame(&self) -> Option<&Frame> {
        self.rt.writer.frame(self.at.ctx.depth)
    }

    /// The frame at another depth of the chain (the scopes of calling workflows).
    pub fn frame_at(&self, depth: usize) -> Option<&Frame> {
        self.rt.writer.frame(depth)
    }

    pub fn scope(&self, scope: ScopeRef) -> Option<&Scope> {
        self.rt.writer.scope(scope)
    }

    /// The state document, read-only (named sessions, the `--session` seed, the run id).
    pub fn doc(&self) -> &StateDoc {
        self.rt.writer.doc()
    }

    pub fn run_id(&self) -> &str {
        &self.rt.writer.doc().run_id
    }

    pub fn run_dir(&self) -> &Path {
        self.rt.writer.run_dir().path()
    }

    pub fn output_dir(&self) -> PathBuf {
        self.rt.writer.run_dir().output_dir()
    }

    /// The `seq` the step's `step_start` will get when it starts next.
    pub fn next_seq(&self) -> u64 {
        self.rt.writer.next_seq()
    }

    pub fn settings(&self) -> &RunSettings {
        &self.rt.settings
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.rt.redactor
    }

    pub fn interrupts(&self) -> Interrupts {
        self.rt.interrupts.clone()
    }

    /// The run's budgets (control.md §5), shared with every running step.
    pub fn budget(&self) -> Arc<super::super::budget::Tracker> {
        self.rt.budget.clone()
    }

    /// `/abort` in an interactive step: the run stops as if interrupted by a signal.
    pub fn abort(&mut self) {
        self.rt.interrupts.abort(&self.rt.signal);
    }

    pub fn colour(&self) -> bool {
        self.rt.writer.console().colour
    }

    pub fn config(&self) -> Config {
        self.rt.loader.config()
    }

    pub fn loader(&mut self) -> &mut Loader {
        &mut self.rt.loader
    }

    /// The workflow the run started.
    pub fn root(&self) -> Arc<Workflow> {
        self.rt.root.clone()
    }

    /// Whether this is the first step of a resumed run (it gets resume framing); asking ends it.
    pub fn take_resuming_step(&mut self) -> bool {
        std::mem::take(&mut self.rt.resuming_step)
    }

    pub(crate) fn engines(&mut self) -> &mut Vec<crate::engine::Engine> {
        &mut self.rt.engines
    }

    // ----- containers -----

    /// Runs a child step list (the body of a loop, group or sub-workflow) to its end.
    pub fn run_list<'b>(
        &'b mut self,
        body: &'b ListCtx,
        steps: &'b [Step],
    ) -> BoxFuture<'b, Result<End, RunError>> {
        self.rt.run_list(body, steps)
    }
}
