//! The events executors (and the walker) report to the [`super::writer::Writer`], which alone
//! turns them into console lines, `state.json` changes and audit events.
//!
//! An event says what happened, with the typed record the audit log gets where there is one;
//! it never says how to write it. The writer applies events in order, so the order in which an
//! executor emits them is the order in which the run's truth changes.

use crate::agents::render::Target;
use crate::engine::HookRecord;
use crate::state::{
    AgentFrame, BranchState, Control, IterationEnd, IterationStart, LastFailure, LastSession,
    LoopFrame, NamedSession, Outcome, SessionRecord, Skip, StepEnd, StepResult, StepRetry,
    StepStart, SubWorkflowEnd, SubWorkflowFrame, SubWorkflowStart,
};

use super::super::context::ScopeRef;

/// Where a step is: its frame's depth and both forms of its path.
#[derive(Debug, Clone)]
pub struct StepRef {
    pub depth: usize,
    /// Console form (`4/9 implement > #2/5 > fix`).
    pub display: String,
    /// Audit form (`implement[1]/fix`).
    pub path: String,
}

/// How a step's end reads on the console and counts in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndLine {
    Ok,
    Failed {
        continued: bool,
    },
    /// Interrupted: nothing is printed.
    Silent,
}

/// Something that happened in the run.
#[derive(Debug, Clone)]
pub enum Event {
    // ----- a step's life -----
    /// A step starts: heading, frame `running` with the next attempt, `step_start`, save.
    StepStarted {
        step: StepRef,
        label: String,
        start: Box<StepStart>,
        /// The step starts its process right away and then sends [`Event::Flush`]: the flush of
        /// the step before may go on meanwhile (see the writer's module doc).
        spawns: bool,
    },
    /// Only a step's heading: a container that continues after a resume, or a step whose
    /// `skip_if` failed before it could start.
    Heading { display: String, label: String },
    /// A step was skipped (`skip_if`, `--from`); `leaf` steps count in the summary.
    Skipped {
        display: String,
        path: String,
        reason: String,
        skip: Skip,
        leaf: bool,
    },
    /// A step's end on the console (`ok`/`failed` with its duration) and in the summary counts
    /// (for `leaf` steps: shell and agent steps).
    EndShown {
        line: EndLine,
        leaf: bool,
        duration: std::time::Duration,
        usage_text: Option<String>,
        message: Option<String>,
    },
    /// How a step ended, kept in its scope for conditions that read `steps.<id>`.
    StepResult {
        scope: ScopeRef,
        id: String,
        result: StepResult,
    },
    /// A step finished, with its outcome and error class: `step_end`.
    StepEnded { path: String, end: Box<StepEnd> },
    /// The frame at `depth` moves on to the step at `index` (written with the next save).
    Advanced {
        depth: usize,
        index: usize,
        step_id: String,
        previous: Option<Outcome>,
    },
    /// The frame of a step that was interrupted.
    Interrupted { depth: usize },
    /// A step failed and nothing consumed the failure: the run stops here (saved).
    RunFailed { depth: usize, failure: LastFailure },
    /// A `break_if` matched: the loop whose frame is at `loop_depth` ends (saved).
    LoopBroken { loop_depth: usize, matched: String },

    // ----- what a step reports while it runs -----
    /// A detail line under the step's heading.
    Detail(String),
    /// A line of the runner's own, as it is.
    Line(String),
    /// Rendered agent output for the console (left out with `-q`).
    Output { text: String, target: Target },
    /// The end of a failed agent's stderr, shown under its failure.
    StderrTail(String),
    /// The agent step's CLI and session, known before the CLI starts.
    AgentPlanned { depth: usize, agent: AgentFrame },
    /// A session id became known (`save` writes it at once, so a crash can continue it).
    SessionSeen {
        step: StepRef,
        record: SessionRecord,
        save: bool,
    },
    /// A capture has no value because of `why` (its output was over the limit): a template that
    /// uses it says so.
    CaptureRefused {
        scope: ScopeRef,
        name: String,
        why: String,
    },
    /// A capture is stored in its scope.
    Captured {
        scope: ScopeRef,
        name: String,
        value: crate::state::CaptureValue,
    },
    /// One agent step's usage (all zero and no cost when its CLI reported none).
    Usage {
        input: u64,
        cached: u64,
        output: u64,
        cost_usd: Option<f64>,
    },
    /// The session an agent step ended with becomes its scope's (and its name's) latest.
    SessionKept {
        scope: ScopeRef,
        last: LastSession,
        named: Option<(String, NamedSession)>,
    },
    /// A warning: printed (when `shown`) and logged.
    Warning {
        path: String,
        code: String,
        message: String,
        shown: bool,
    },
    /// A step's answer did not match its output schema: the runner asks once more.
    OutputRepair {
        path: String,
        record: crate::state::OutputRepair,
    },
    /// Engine hooks ran.
    Engine {
        path: String,
        records: Vec<HookRecord>,
    },
    /// How an interactive agent step was ended.
    Control { path: String, record: Control },

    // ----- containers -----
    /// A step with `retry` is about to start try `attempt` (stored with its start).
    RetryAttempt { depth: usize, attempt: u32 },
    /// A failed try is tried again after a delay: the console `line` and `step_retry`.
    Retrying {
        path: String,
        line: String,
        record: StepRetry,
    },

    /// A loop's frozen plan, stored before the loop starts.
    LoopPlanned { depth: usize, plan: LoopFrame },
    /// A loop iteration starts: its heading, and its body's first frame unless resumed.
    IterationHeading {
        heading: String,
        item: Option<String>,
    },
    /// A loop iteration's body starts from its first step.
    IterationStarted {
        depth: usize,
        path: String,
        first_id: String,
        record: IterationStart,
    },
    /// A loop iteration ended; `next` moves the loop on (`Some(true)`: a `break_if` matched).
    IterationEnded {
        depth: usize,
        path: String,
        record: IterationEnd,
        next: Option<bool>,
    },
    /// A sub-workflow's `secret: true` param values: hidden everywhere from now on, and kept
    /// for `show`, `log` and a resume.
    SecretsDeclared { values: Vec<String> },
    /// A sub-workflow call is set up (its frame and scope), before the step starts.
    SubWorkflowEntered {
        depth: usize,
        call: SubWorkflowFrame,
    },
    /// A sub-workflow's steps start from the first one.
    SubWorkflowStarted {
        depth: usize,
        path: String,
        first_id: String,
        record: SubWorkflowStart,
    },
    SubWorkflowEnded {
        path: String,
        record: SubWorkflowEnd,
    },
    /// A group's children start from the first one.
    GroupOpened { depth: usize, first_id: String },
    /// The commit the worktrees of the parallel step whose frame is at `depth` start from.
    WorktreeBase { depth: usize, commit: String },
    /// A branch's git worktree was made or found again: the `worktree` audit event.
    Worktree {
        path: String,
        record: crate::state::WorktreeRecord,
    },
    /// A branch of the parallel step whose frame is at `depth` starts (or continues after a
    /// resume): listed with its label, its position at `first_id` unless it has one.
    BranchStarted {
        depth: usize,
        index: u64,
        label: String,
        first_id: String,
    },
    /// A branch ended: `state` `None` when it completed (it leaves the list, and a group's
    /// branch hands its captures to `merge`, the enclosing scope), else how it stands.
    BranchEnded {
        depth: usize,
        index: u64,
        state: Option<BranchState>,
        merge: Option<ScopeRef>,
    },

    /// Whatever the position has that is not on disk yet is written now: a command that is not
    /// a step (`skip_if: sh:`, an engine hook) is about to run.
    Flush,
}

/// Something that wants to see every event as the writer applies it (a live run view, for
/// example). It sees the event before it is applied and cannot change it.
pub trait Subscriber {
    fn event(&mut self, event: &Event);
}
