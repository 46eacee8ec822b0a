//! Records of the step-level audit events: `step_start`, `step_end`, `skip`, loop iterations,
//! sub-workflow calls, `session`, `control` and `engine`.
//!
//! Fields a kind of step does not have are left out (`Option` + `skip_serializing_if`); fields it
//! always writes, `null` when unknown, are `Option<Option<_>>` on the writing side.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use crate::error::ErrorClass;
use crate::workflow::{Effort, SessionStrategy};

/// The `kind` of a step as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKindName {
    Shell,
    InteractiveShell,
    Headless,
    Interactive,
    Loop,
    SubWorkflow,
    Group,
}

impl StepKindName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKindName::Shell => "shell",
            StepKindName::InteractiveShell => "interactive_shell",
            StepKindName::Headless => "headless",
            StepKindName::Interactive => "interactive",
            StepKindName::Loop => "loop",
            StepKindName::SubWorkflow => "sub_workflow",
            StepKindName::Group => "group",
        }
    }
}

/// How a step, an iteration or a sub-workflow call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Success,
    Failed,
    Interrupted,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Success => "success",
            StepOutcome::Failed => "failed",
            StepOutcome::Interrupted => "interrupted",
        }
    }
}

/// `step_start`: the step's kind and attempt, and what it is about to run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepStart {
    #[serde(deserialize_with = "lenient::option")]
    pub kind: Option<StepKindName>,
    #[serde(deserialize_with = "lenient::option")]
    pub attempt: Option<u32>,
    /// A `skip_if: sh:` condition that was evaluated and did not skip.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub skip_if: Option<SkipIfRecord>,
    // Shell steps.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub command: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub workdir: Option<Option<String>>,
    // Agent steps.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub mode: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub cli: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub model: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub effort: Option<Option<Effort>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub permissions: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub session_strategy: Option<SessionStrategy>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub session_id: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub prompt: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub enrichment: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub argv: Option<Vec<String>>,
    // Loops.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub loop_kind: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub max: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub pattern: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub match_count: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub items: Option<Vec<String>>,
    // Sub-workflows.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub source: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub name: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub params: Option<Map<String, Value>>,
}

/// `skip_if{command, exit_code}` of a `step_start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkipIfRecord {
    pub command: String,
    pub exit_code: i32,
}

/// `step_end`: how the step ended and what it produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepEnd {
    #[serde(deserialize_with = "lenient::option")]
    pub outcome: Option<StepOutcome>,
    #[serde(deserialize_with = "lenient::option")]
    pub duration_ms: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub exit_code: Option<Option<i64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub signal: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub error: Option<FailureRecord>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub continued: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub capture: Option<CaptureRecord>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub outputs: Option<Vec<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub break_triggered: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub iterations: Option<u64>,
    // Agent steps.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub session_id: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub usage: Option<UsageRecord>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub cost_usd: Option<Option<f64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub num_turns: Option<Option<u64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::nullable"
    )]
    pub final_text_bytes: Option<Option<u64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub transcript: Option<String>,
    /// The limit that stopped the step (control.md §2).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub timeout: Option<TimeoutRecord>,
    /// Which attempt of a retried step this is (control.md §4), as its `step_start.attempt`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub attempt: Option<u32>,
    /// How many tool calls the CLI denied (control.md §3).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub denied: Option<u64>,
}

/// `step_retry{attempt, class, message, delay_ms}`: a failed attempt is tried again after the
/// delay; `attempt` is the try that comes next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepRetry {
    pub attempt: u32,
    #[serde(deserialize_with = "lenient::option")]
    pub class: Option<ErrorClass>,
    pub message: String,
    pub delay_ms: u64,
}

/// `timeout{kind, limit_ms}` of a step stopped by a limit: `kind` is `wall` or `idle`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeoutRecord {
    pub kind: String,
    pub limit_ms: u64,
}

/// `output_repair{errors}`: the answer did not match the step's output schema, and the runner
/// asks once more in the same session (control.md §7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputRepair {
    pub errors: Vec<crate::workflow::output::SchemaError>,
}

/// `error{class,message[,reset_at]}` of a failed step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailureRecord {
    #[serde(deserialize_with = "lenient::option")]
    pub class: Option<ErrorClass>,
    #[serde(deserialize_with = "lenient::option")]
    pub message: Option<String>,
    /// When a `quota` resets (RFC 3339), if the CLI said so.
    #[serde(
        deserialize_with = "lenient::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub reset_at: Option<String>,
}

/// `capture{name,bytes}` of a step that stored a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptureRecord {
    pub name: String,
    pub bytes: u64,
}

/// An agent step's token usage; a reader keeps only the figures the line has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageRecord {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub input_tokens: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub cached_input_tokens: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub cache_creation_tokens: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub output_tokens: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub reasoning_tokens: Option<u64>,
    /// The tokens budgets count: input and output, cached input counted as input.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub total_tokens: Option<u64>,
    /// The split by model (claude `modelUsage`), by model name.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub models: Option<std::collections::BTreeMap<String, ModelUsageRecord>>,
}

/// One model's share of a step's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelUsageRecord {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_creation_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// Why a step was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    PreviousSuccess,
    Sh,
    From,
    /// A `when:` condition was false.
    When,
}

/// `skip`: a step that did not run, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Skip {
    /// The reason as written; [`Skip::reason`] reads it.
    #[serde(rename = "reason", deserialize_with = "lenient::option")]
    pub reason_text: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub command: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub exit_code: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub output: Option<String>,
    /// The `when:` expression that was false.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::option"
    )]
    pub expression: Option<String>,
}

impl Skip {
    /// A `skip` for `reason`, without a command.
    pub fn because(reason: SkipReason) -> Self {
        let reason_text = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        Skip {
            reason_text,
            ..Skip::default()
        }
    }

    /// The reason, when it is one this binary knows.
    pub fn reason(&self) -> Option<SkipReason> {
        let text = self.reason_text.as_deref()?;
        serde_json::from_value(Value::String(text.to_owned())).ok()
    }
}
