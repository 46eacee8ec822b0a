//! Records of the container and engine audit events: loop iterations, sub-workflow calls and
//! engine hooks.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use super::step::StepOutcome;

/// `iteration_start`: a loop iteration with its item and loop variables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IterationStart {
    #[serde(deserialize_with = "lenient::option")]
    pub iteration: Option<u64>,
    #[serde(deserialize_with = "lenient::option")]
    pub item: Option<String>,
    pub vars: Map<String, Value>,
}

/// `iteration_end`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IterationEnd {
    #[serde(deserialize_with = "lenient::option")]
    pub iteration: Option<u64>,
    #[serde(deserialize_with = "lenient::option")]
    pub outcome: Option<StepOutcome>,
    #[serde(deserialize_with = "lenient::option")]
    pub duration_ms: Option<u64>,
}

/// `sub_workflow_start`: the called file and its bound (redacted) params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubWorkflowStart {
    #[serde(deserialize_with = "lenient::option")]
    pub source: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub hash: Option<String>,
    pub params: Map<String, Value>,
}

/// `sub_workflow_end`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubWorkflowEnd {
    #[serde(deserialize_with = "lenient::option")]
    pub outcome: Option<StepOutcome>,
    #[serde(deserialize_with = "lenient::option")]
    pub duration_ms: Option<u64>,
}

/// `engine`: one engine hook that ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub engine: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub hook: Option<String>,
    /// `ok`, `skipped`, `rejected` or `error`.
    #[serde(deserialize_with = "lenient::option")]
    pub outcome: Option<String>,
    #[serde(deserialize_with = "lenient::option")]
    pub argv: Option<Vec<String>>,
    #[serde(deserialize_with = "lenient::option")]
    pub exit_code: Option<i64>,
    #[serde(deserialize_with = "lenient::option")]
    pub duration_ms: Option<u64>,
    #[serde(deserialize_with = "lenient::option")]
    pub message: Option<String>,
}

impl From<crate::engine::HookRecord> for EngineRecord {
    fn from(record: crate::engine::HookRecord) -> Self {
        EngineRecord {
            engine: Some(record.engine),
            hook: Some(record.hook.to_owned()),
            outcome: Some(record.outcome.to_owned()),
            argv: record.argv,
            exit_code: record.exit_code.map(i64::from),
            duration_ms: Some(record.duration_ms),
            message: record.message,
        }
    }
}

/// `worktree`: the git worktree of a parallel branch (control.md §11), made now (`created`) or
/// found again by a resume (`reused`); exactly one of the two is `true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorktreeRecord {
    /// The worktree's directory (absolute).
    #[serde(deserialize_with = "lenient::option")]
    pub path: Option<String>,
    /// The git branch checked out there.
    #[serde(deserialize_with = "lenient::option")]
    pub branch: Option<String>,
    /// The commit the branch was created from.
    #[serde(deserialize_with = "lenient::option")]
    pub base_commit: Option<String>,
    #[serde(
        deserialize_with = "lenient::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<bool>,
    #[serde(
        deserialize_with = "lenient::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub reused: Option<bool>,
}

impl WorktreeRecord {
    /// The record of a worktree at `path` on `branch` from `base_commit`.
    pub fn new(path: String, branch: String, base_commit: String, created: bool) -> Self {
        WorktreeRecord {
            path: Some(path),
            branch: Some(branch),
            base_commit: Some(base_commit),
            created: created.then_some(true),
            reused: (!created).then_some(true),
        }
    }
}
