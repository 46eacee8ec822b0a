//! Records of the run-wide audit events: `run_start`, `run_end`, `warning`, `error`,
//! `interrupt`, `lock_takeover`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use crate::error::ErrorClass;

/// `run_start`: what was started, with which params, and whether it resumes a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunStart {
    #[serde(deserialize_with = "lenient::option")]
    pub workflow: Option<WorkflowRecord>,
    /// Params as shown (redacted); a reader may find non-string values in an old log.
    pub params: Map<String, Value>,
    #[serde(deserialize_with = "lenient::option")]
    pub project_dir: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub agent_runner_version: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub resumed: Option<bool>,
    #[serde(deserialize_with = "lenient::option")]
    pub resume_from: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub from: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub seed_session: Option<SeedRecord>,
}

/// `workflow{name,source,hash}` of `run_start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub source: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub hash: Option<String>,
}

/// `seed_session{cli,id}` of `run_start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub cli: Option<String>,
    pub id: String,
}

/// How a run ended, in `run_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Completed,
    Failed,
    Interrupted,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

/// `run_end`: outcome, exit code, duration, step counts and usage of this invocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunEnd {
    #[serde(deserialize_with = "lenient::option")]
    pub outcome: Option<RunOutcome>,
    #[serde(deserialize_with = "lenient::option")]
    pub exit_code: Option<i64>,
    #[serde(deserialize_with = "lenient::option")]
    pub duration_ms: Option<u64>,
    #[serde(deserialize_with = "lenient::option")]
    pub counts: Option<Counts>,
    /// `null` when no agent step ran.
    #[serde(deserialize_with = "lenient::option")]
    pub usage: Option<RunUsage>,
}

/// Shell and agent steps by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub ok: u64,
    pub skipped: u64,
    pub failed_continued: u64,
}

/// Token usage and cost over the agent steps of one invocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    /// `null` when no step reported a cost.
    #[serde(deserialize_with = "lenient::option")]
    pub cost_usd: Option<f64>,
    pub cost_complete: bool,
}

/// `warning`: something the user should know that did not fail anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Warning {
    #[serde(deserialize_with = "lenient::option")]
    pub code: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub message: Option<String>,
}

/// `error`: an internal error that ended the run (a failure to write state, for example).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub class: Option<ErrorClass>,
    #[serde(deserialize_with = "lenient::option")]
    pub message: Option<String>,
}

/// `interrupt`: the first signal (or `abort`) and how many arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interrupt {
    #[serde(deserialize_with = "lenient::option")]
    pub signal: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub count: Option<u64>,
}

/// `lock_takeover`: the stale lock this run took over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockTakeoverRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub previous_pid: Option<u64>,
    #[serde(deserialize_with = "lenient::option")]
    pub previous_host: Option<String>,
}
