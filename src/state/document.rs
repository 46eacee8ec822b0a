//! The state.json document (runs-and-state.md §3): where a run is, its scopes and its sessions.
//!
//! The types mirror the spec field by field and serialize in the spec's field order. Optional frame
//! parts (`agent`, `loop`, `sub_workflow`) are left out when absent; everything else is always
//! written, `null` included, so the file reads the same at every depth. Only the run's writer builds
//! and changes these values; [`super::RunDir::write_state`] persists them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::capture::{CaptureValue, Captures};
use super::time::now_rfc3339;
use crate::error::ErrorClass;
use crate::workflow::{Effort, SessionStrategy};

/// The newest state format this binary reads and writes; newer files are refused. A document
/// is written as version 1 (which a first-release binary reads) unless it uses a second-release
/// field: see [`StateDoc::uses_second_release_fields`].
pub const FORMAT_VERSION: u64 = 2;
/// The first release's format.
pub const FIRST_FORMAT_VERSION: u64 = 1;

/// String-to-string maps (params, captures) are kept sorted so files are stable.
pub type StringMap = BTreeMap<String, String>;

/// The top-level object of state.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDoc {
    pub format_version: u64,
    pub run_id: String,
    pub agent_runner_version: String,
    pub project_dir: String,
    pub status: RunStatus,
    /// `true` only after a successful finish.
    pub completed: bool,
    pub created_at: String,
    pub updated_at: String,
    pub workflow: WorkflowRef,
    /// Bound root parameters, secrets included (the file is 0600; resume needs them).
    #[serde(default)]
    pub params: StringMap,
    /// Names of the params whose values are redacted everywhere else.
    #[serde(default)]
    pub secret_params: Vec<String>,
    /// Values of the `secret: true` params of sub-workflows that have started, redacted
    /// everywhere else like the root's secret params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_secrets: Vec<String>,
    /// From `--session` given with a workflow.
    pub seed_session: Option<SeedSession>,
    /// Run-wide named sessions that have been started.
    #[serde(default)]
    pub named_sessions: BTreeMap<String, NamedSession>,
    /// The root scope.
    #[serde(default)]
    pub scope: Scope,
    /// Where the run is; `None` once the run has completed.
    pub position: Option<Frame>,
    /// The failure that stopped the run.
    pub last_failure: Option<LastFailure>,
    /// The run budget in force (second release: `format_version` 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<super::format::BudgetInForce>,
    /// Journal records only: on the last record of a run that stopped without completing, the
    /// state.json its end wrote (never in state.json; readers never see it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<super::snapshot::SnapshotStamp>,
}

impl StateDoc {
    /// A fresh document for a run that is starting: status `running`, both timestamps now, empty
    /// scope, no position yet (the runtime sets it before the first write).
    pub fn new(
        run_id: impl Into<String>,
        project_dir: impl Into<String>,
        workflow: WorkflowRef,
    ) -> Self {
        let now = now_rfc3339();
        StateDoc {
            format_version: FIRST_FORMAT_VERSION,
            run_id: run_id.into(),
            agent_runner_version: env!("CARGO_PKG_VERSION").to_string(),
            project_dir: project_dir.into(),
            status: RunStatus::Running,
            completed: false,
            created_at: now.clone(),
            updated_at: now,
            workflow,
            params: StringMap::new(),
            secret_params: Vec::new(),
            sub_secrets: Vec::new(),
            seed_session: None,
            named_sessions: BTreeMap::new(),
            scope: Scope::default(),
            position: None,
            last_failure: None,
            budget: None,
            snapshot: None,
        }
    }

    /// Sets `updated_at` to now. Call before each write.
    pub fn touch(&mut self) {
        self.updated_at = now_rfc3339();
    }

    /// Whether the document uses a field of the second release (control.md §11 "Audit and
    /// state"): such a file carries `format_version: 2`, so that a first-release binary refuses
    /// it with its "newer agent-runner" message instead of misreading it. Every new state field
    /// is added here.
    pub fn uses_second_release_fields(&self) -> bool {
        let second = |scope: &Scope| {
            !scope.steps.is_empty() || scope.captures.values().any(CaptureValue::is_json)
        };
        let mut found = second(&self.scope) || self.budget.is_some();
        if let Some(position) = self.position.as_ref() {
            position.walk(&mut |frame| {
                found |= frame
                    .sub_workflow
                    .as_ref()
                    .is_some_and(|sub| second(&sub.scope));
                // Branch frames (control.md §8).
                found |= frame.parallel.is_some();
                // The try of a retried step (control.md §4).
                found |= frame.retry_attempt > 0;
            });
        }
        found
    }

    /// The `format_version` this document must be written with.
    pub fn required_format_version(&self) -> u64 {
        if self.uses_second_release_fields() {
            FORMAT_VERSION
        } else {
            FIRST_FORMAT_VERSION
        }
    }

    /// Sets `format_version` to what the document's fields require. Every write calls it.
    pub fn stamp_format_version(&mut self) {
        self.format_version = self.required_format_version();
    }

    /// The frames of the position, outermost first.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        std::iter::successors(self.position.as_ref(), |frame| frame.child.as_deref())
    }

    /// The step path of the current position (`implement[2]/work/validate/attempts[1]/fix`), or
    /// `None` when there is none. With several branches running, their paths joined by `, `.
    pub fn position_path(&self) -> Option<String> {
        self.position.as_ref().map(|p| p.paths().join(", "))
    }

    /// The step path of every branch that is going on (one path outside parallel steps).
    pub fn position_paths(&self) -> Vec<String> {
        self.position.as_ref().map(Frame::paths).unwrap_or_default()
    }
}

/// The last known status of a run, as stored. `list` shows `running` only while the lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Failed,
    Interrupted,
    Completed,
}

impl RunStatus {
    /// The spelling used in state.json, `list` and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Completed => "completed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which workflow file a run (or a sub-workflow frame) executes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRef {
    pub name: String,
    /// `builtin:<name>` or an absolute file path.
    pub source: String,
    /// `sha256:<hex>` of the file bytes.
    pub hash: String,
}

/// An agent session given with `--session` together with a workflow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSession {
    /// The CLI the seed is limited to (`claude:<id>`), or `None` for any CLI.
    pub cli: Option<String>,
    pub id: String,
}

/// A run-wide named session that has been started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedSession {
    pub cli: String,
    pub session_id: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
}

/// The variables and session history of one workflow invocation (root or sub-workflow).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub captures: Captures,
    /// Why a capture has no value, for the captures whose step ran but could not store one
    /// (output over the 1 MiB limit), so that a later use says so.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub capture_errors: StringMap,
    pub last_session: Option<LastSession>,
    /// How the steps of this scope ended, the last time each ran, for conditions that read
    /// `steps.<id>` (kept only for files whose conditions do).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, StepResult>,
}

/// How a step ended, as `steps.<id>` shows it to a condition (control.md §6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// `success`, `failed` or `skipped`.
    pub outcome: String,
    pub exit_code: Option<i64>,
    pub class: Option<ErrorClass>,
    pub duration_ms: u64,
    /// The agent's reported cost (a JSON number, so the record stays comparable).
    pub cost_usd: Option<serde_json::Number>,
}

/// The most recent agent session of a scope, which `resume` and `inherit` steps continue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSession {
    pub step_id: String,
    pub cli: String,
    pub session_id: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
}

/// The failure that stopped the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastFailure {
    pub path: String,
    /// The error class (runs-and-state.md §7), e.g. `exit_status`.
    pub class: ErrorClass,
    pub message: String,
}

/// The state of the step a frame points at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameState {
    #[default]
    Pending,
    Running,
    Failed,
    Interrupted,
}

/// The previous outcome of a step list, used by `skip_if`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failed,
}

/// One active step list: the step that runs next or is running, nested through `child`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// 0-based index of the step in its list.
    pub index: usize,
    /// The step's id, checked on resume.
    pub step_id: String,
    pub state: FrameState,
    pub previous_outcome: Option<Outcome>,
    /// How many times this step has been started in this run.
    pub attempt: u32,
    /// The try of a step with `retry` that runs now, stored before each try (control.md §4);
    /// 0 for a step without retries. A second-release field.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentFrame>,
    #[serde(rename = "loop", default, skip_serializing_if = "Option::is_none")]
    pub loop_: Option<LoopFrame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_workflow: Option<SubWorkflowFrame>,
    /// A parallel step's branches (control.md §8); a second-release field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<super::parallel::ParallelFrame>,
    /// The frame inside this step, or `None` before the step's body has started.
    pub child: Option<Box<Frame>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Frame {
    /// A `pending` frame at `index`, nothing started.
    pub fn pending(index: usize, step_id: impl Into<String>) -> Self {
        Frame {
            index,
            step_id: step_id.into(),
            ..Frame::default()
        }
    }

    /// The step path from this frame down, with loop iterations as `id[i]`:
    /// `implement[2]/work/validate/attempts[1]/fix`.
    pub fn path(&self) -> String {
        let mut path = String::new();
        let mut frame = Some(self);
        while let Some(f) = frame {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&f.step_id);
            if let Some(l) = &f.loop_ {
                path.push_str(&format!("[{}]", l.iteration));
            }
            frame = f.child.as_deref();
        }
        path
    }

    /// The innermost frame (the step that is running or runs next).
    pub fn leaf(&self) -> &Frame {
        let mut frame = self;
        while let Some(child) = frame.child.as_deref() {
            frame = child;
        }
        frame
    }

    /// The innermost frame, mutably.
    pub fn leaf_mut(&mut self) -> &mut Frame {
        match self.child {
            Some(ref mut child) => child.leaf_mut(),
            None => self,
        }
    }
}

/// An agent step in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFrame {
    pub cli: String,
    /// `new`, `resume`, `inherit` or a declared session name.
    pub strategy: SessionStrategy,
    /// Written as soon as it is known.
    pub session_id: Option<String>,
    /// The runner chose the id before starting the CLI (Claude `--session-id`).
    pub preassigned: bool,
}

/// The kind of a loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopKind {
    #[default]
    Counted,
    ForEach,
}

/// A loop in progress, with its frozen match list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopFrame {
    pub kind: LoopKind,
    pub max: Option<u64>,
    pub pattern: Option<String>,
    /// The frozen match list of a for-each loop; `None` for counted loops. Never re-expanded.
    pub items: Option<super::item_list::ItemList>,
    /// Journal records only: the run-dir file that holds `items`, written once when the loop
    /// starts, so that a record does not repeat the list (never in state.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_file: Option<String>,
    /// The 0-based iteration that is running.
    pub iteration: u64,
    pub break_triggered: bool,
}

/// A sub-workflow call in progress, with the child's own scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubWorkflowFrame {
    pub source: String,
    pub name: String,
    pub hash: String,
    #[serde(default)]
    pub params: StringMap,
    #[serde(default)]
    pub scope: Scope,
}
