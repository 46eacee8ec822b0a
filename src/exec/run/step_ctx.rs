//! The narrow context an executor gets to run one step: where the step is, read access to what
//! it needs (its frame, its scope, the run's settings), template rendering, and [`StepCtx::emit`]
//! to report what happened. It never hands out the runtime or the writer: every change of the
//! run's truth is an [`Event`].

use std::cell::{Ref, RefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::context::{ListCtx, ScopeRef};
use super::super::error::RunError;
use super::super::outcome::{End, Failure};
use super::super::signals::Interrupts;
use super::super::subflow::Loader;
use super::branch::BranchCtx;
use super::branches::{BranchSpec, Branches, Policy};
use super::event::{Event, StepRef};
use super::slots::{Slot, SlotKey};
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
        self.rt.emit(event)
    }

    /// The step starts (heading `label`, `step_start` with `start`); returns its `seq`, which
    /// names the step's output files.
    pub fn start(&mut self, label: &str, start: StepStart) -> Result<u64, RunError> {
        self.start_step(label, start, false)
    }

    /// [`StepCtx::start`] for a step that starts its process at once, with nothing awaited
    /// before: the flush of the step before overlaps the spawn. The executor must send
    /// [`Event::Flush`] as soon as the process is started (or could not be), before it awaits
    /// anything else.
    pub fn start_spawning(&mut self, label: &str, start: StepStart) -> Result<u64, RunError> {
        self.start_step(label, start, true)
    }

    fn start_step(
        &mut self,
        label: &str,
        mut start: StepStart,
        spawns: bool,
    ) -> Result<u64, RunError> {
        start.kind = Some(super::step::kind_name(self.at.step));
        start.skip_if = self.rt.pending_skip_if.take();
        let seq = self.rt.writer().next_seq();
        self.emit(Event::StepStarted {
            step: self.step_ref(),
            label: label.to_owned(),
            start: Box::new(start),
            spawns,
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

    /// This step's frame (borrowed: let go of it before anything is awaited or emitted).
    pub fn frame(&self) -> Option<Ref<'_, Frame>> {
        self.rt.frame(self.at.ctx.depth)
    }

    /// The frame at another depth of the chain (the scopes of calling workflows).
    pub fn frame_at(&self, depth: usize) -> Option<Ref<'_, Frame>> {
        self.rt.frame(depth)
    }

    /// Where `scope`'s captures and latest session are kept as this step sees it: inside a
    /// parallel branch, the branch's own (control.md §8).
    pub fn scope(&self, scope: ScopeRef) -> Option<Ref<'_, Scope>> {
        Ref::filter_map(self.rt.writer.borrow(), |w| {
            w.scope_in(&self.rt.branch.forks, scope)
        })
        .ok()
    }

    /// Whether this step runs in a parallel branch that `scope` encloses: its `resume` then
    /// continues only the branch's own sessions.
    pub fn in_branch_of(&self, scope: ScopeRef) -> bool {
        self.rt.branch.forks.iter().any(|fork| match scope {
            ScopeRef::Root => true,
            ScopeRef::SubWorkflow(depth) => depth < fork.depth,
        })
    }

    /// The state document, read-only (named sessions, the `--session` seed, the run id).
    pub fn doc(&self) -> Ref<'_, StateDoc> {
        Ref::map(self.rt.writer.borrow(), |w| w.doc())
    }

    pub fn run_id(&self) -> String {
        self.rt.writer.borrow().doc().run_id.clone()
    }

    pub fn run_dir(&self) -> &Path {
        &self.rt.run_dir
    }

    pub fn output_dir(&self) -> PathBuf {
        self.rt.writer.borrow().run_dir().output_dir()
    }

    /// The `seq` the step's `step_start` will get when it starts next.
    pub fn next_seq(&self) -> u64 {
        self.rt.writer.borrow().next_seq()
    }

    /// The directory a step's relative `workdir` (and globs) start from: the project
    /// directory, or the branch's own working directory (a worktree).
    pub fn workdir_root(&self) -> PathBuf {
        self.rt
            .branch
            .workdir
            .clone()
            .unwrap_or_else(|| self.rt.settings.project_dir.clone())
    }

    /// The branch this step runs in, if any.
    pub fn branch(&self) -> &BranchCtx {
        &self.rt.branch
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
        let signal = self.rt.signal.clone();
        self.rt.interrupts.abort(&signal);
    }

    pub fn colour(&self) -> bool {
        self.rt.writer.borrow().console().colour
    }

    pub fn config(&self) -> Config {
        self.rt.loader.borrow().config()
    }

    /// The workflow loader (borrowed: let go of it before anything is awaited).
    pub fn loader(&mut self) -> RefMut<'_, Loader> {
        self.rt.loader.borrow_mut()
    }

    /// The workflow the run started.
    pub fn root(&self) -> Arc<Workflow> {
        self.rt.root.clone()
    }

    /// Whether this is the first step of a resumed run (it gets resume framing); asking ends it.
    pub fn take_resuming_step(&mut self) -> bool {
        self.rt.resuming_step.take()
    }

    /// The engine instances (borrowed: let go of them before anything is awaited or emitted).
    pub(crate) fn engines(&mut self) -> RefMut<'_, Vec<crate::engine::Engine>> {
        self.rt.engines.borrow_mut()
    }

    // ----- containers -----

    /// Runs the branches `indices` of this parallel step at once (control.md §8), each built
    /// by `make`; see [`super::branches`].
    pub fn run_branches<'b>(
        &'b mut self,
        indices: Vec<u64>,
        make: &'b dyn Fn(u64) -> BranchSpec<'b>,
        policy: Policy,
    ) -> BoxFuture<'b, Result<Branches, RunError>> {
        let depth = self.at.ctx.depth;
        self.rt.run_branches(depth, indices, make, policy)
    }

    /// A slot for an agent process of `cli` under the configuration's caps (control.md §8),
    /// waited for when none is free (`waiting for a claude slot`); `None` when the run or the
    /// branch is stopped meanwhile.
    pub async fn agent_slot(&mut self, cli: &str) -> Result<Option<Slot>, RunError> {
        self.slot(SlotKey::Agent(cli), cli).await
    }

    /// A slot for a step through a launcher with `max_concurrent` (docs/launchers.md), waited
    /// for like an agent slot (`waiting for a launcher slot`); `argv` is the rendered launcher.
    pub async fn launcher_slot(&mut self, argv: &str, cap: u32) -> Result<Option<Slot>, RunError> {
        self.slot(SlotKey::Launcher(argv, cap), "launcher").await
    }

    async fn slot(&mut self, key: SlotKey<'_>, what: &str) -> Result<Option<Slot>, RunError> {
        if let Some(slot) = self.rt.slots.try_take(key) {
            return Ok(Some(slot));
        }
        self.emit(Event::Detail(format!("waiting for a {what} slot")))?;
        let mut interrupts = self.interrupts();
        let shared = self.rt.shared();
        tokio::select! {
            slot = shared.slots.take(key) => Ok(Some(slot)),
            () = interrupts.stop_requested() => Ok(None),
        }
    }

    /// Stops every running parallel branch of the run (a crossed run budget).
    pub fn stop_all_branches(&self) {
        self.rt.stop_all_branches();
    }

    /// Runs a child step list (the body of a loop, group or sub-workflow) to its end.
    pub fn run_list<'b>(
        &'b mut self,
        body: &'b ListCtx,
        steps: &'b [Step],
    ) -> BoxFuture<'b, Result<End, RunError>> {
        self.rt.run_list(body, steps)
    }
}
