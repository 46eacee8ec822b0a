//! The typed `data` of every audit event (runs-and-state.md §7), shared by the runtime that
//! writes the log and the `show`/`log`/`list` commands that read it.
//!
//! Each event has one record type; [`AuditData`] is the sum of them. Writing serializes a record
//! (fields in the spec's order, optional parts left out when absent); reading parses the `data`
//! of an [`super::AuditRecord`] by its `event` name. Readers are lenient: every field has a
//! default, so an old or damaged line still yields what it has, and a line whose data does not
//! parse at all is kept as raw JSON ([`AuditData::Unknown`]).

mod flow;
mod run;
mod session;
mod step;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use flow::{
    EngineRecord, IterationEnd, IterationStart, SubWorkflowEnd, SubWorkflowStart, WorktreeRecord,
};
pub use run::{
    Counts, ErrorRecord, Interrupt, LockTakeoverRecord, RunEnd, RunOutcome, RunStart, RunUsage,
    SeedRecord, Warning, WorkflowRecord,
};
pub use session::{Control, ControlAction, SessionHow, SessionRecord};
pub use step::{
    CaptureRecord, FailureRecord, ModelUsageRecord, OutputRepair, Skip, SkipIfRecord, SkipReason,
    StepEnd, StepKindName, StepOutcome, StepRetry, StepStart, TimeoutRecord, UsageRecord,
};

use super::AuditEvent;

/// One audit event's data, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditData {
    RunStart(RunStart),
    RunEnd(RunEnd),
    StepStart(StepStart),
    StepEnd(StepEnd),
    StepRetry(StepRetry),
    Skip(Skip),
    IterationStart(IterationStart),
    IterationEnd(IterationEnd),
    SubWorkflowStart(SubWorkflowStart),
    SubWorkflowEnd(SubWorkflowEnd),
    Session(SessionRecord),
    Control(Control),
    Engine(EngineRecord),
    Warning(Warning),
    Error(ErrorRecord),
    Interrupt(Interrupt),
    LockTakeover(LockTakeoverRecord),
    Worktree(WorktreeRecord),
    OutputRepair(OutputRepair),
    /// An event this binary does not know, or data that does not parse: kept as it is.
    Unknown(Value),
}

impl AuditData {
    /// The event this data belongs to; `None` for [`AuditData::Unknown`].
    pub fn event(&self) -> Option<AuditEvent> {
        Some(match self {
            AuditData::RunStart(_) => AuditEvent::RunStart,
            AuditData::RunEnd(_) => AuditEvent::RunEnd,
            AuditData::StepStart(_) => AuditEvent::StepStart,
            AuditData::StepEnd(_) => AuditEvent::StepEnd,
            AuditData::StepRetry(_) => AuditEvent::StepRetry,
            AuditData::Skip(_) => AuditEvent::Skip,
            AuditData::IterationStart(_) => AuditEvent::IterationStart,
            AuditData::IterationEnd(_) => AuditEvent::IterationEnd,
            AuditData::SubWorkflowStart(_) => AuditEvent::SubWorkflowStart,
            AuditData::SubWorkflowEnd(_) => AuditEvent::SubWorkflowEnd,
            AuditData::Session(_) => AuditEvent::Session,
            AuditData::Control(_) => AuditEvent::Control,
            AuditData::Engine(_) => AuditEvent::Engine,
            AuditData::Warning(_) => AuditEvent::Warning,
            AuditData::Error(_) => AuditEvent::Error,
            AuditData::Interrupt(_) => AuditEvent::Interrupt,
            AuditData::LockTakeover(_) => AuditEvent::LockTakeover,
            AuditData::Worktree(_) => AuditEvent::Worktree,
            AuditData::OutputRepair(_) => AuditEvent::OutputRepair,
            AuditData::Unknown(_) => return None,
        })
    }

    /// The `data` object as written.
    pub fn to_value(&self) -> Value {
        fn value(record: &impl Serialize) -> Value {
            serde_json::to_value(record).unwrap_or(Value::Null)
        }
        match self {
            AuditData::RunStart(r) => value(r),
            AuditData::RunEnd(r) => value(r),
            AuditData::StepStart(r) => value(r),
            AuditData::StepEnd(r) => value(r),
            AuditData::StepRetry(r) => value(r),
            AuditData::Skip(r) => value(r),
            AuditData::IterationStart(r) => value(r),
            AuditData::IterationEnd(r) => value(r),
            AuditData::SubWorkflowStart(r) => value(r),
            AuditData::SubWorkflowEnd(r) => value(r),
            AuditData::Session(r) => value(r),
            AuditData::Control(r) => value(r),
            AuditData::Engine(r) => value(r),
            AuditData::Warning(r) => value(r),
            AuditData::Error(r) => value(r),
            AuditData::Interrupt(r) => value(r),
            AuditData::LockTakeover(r) => value(r),
            AuditData::Worktree(r) => value(r),
            AuditData::OutputRepair(r) => value(r),
            AuditData::Unknown(v) => v.clone(),
        }
    }

    /// Parses the `data` of an event named `event`.
    pub fn parse(event: &str, data: &Value) -> AuditData {
        fn typed<T: DeserializeOwned>(data: &Value, wrap: fn(T) -> AuditData) -> AuditData {
            match T::deserialize(data) {
                Ok(record) => wrap(record),
                Err(_) => AuditData::Unknown(data.clone()),
            }
        }
        match event {
            "run_start" => typed(data, AuditData::RunStart),
            "run_end" => typed(data, AuditData::RunEnd),
            "step_start" => typed(data, AuditData::StepStart),
            "step_end" => typed(data, AuditData::StepEnd),
            "step_retry" => typed(data, AuditData::StepRetry),
            "skip" => typed(data, AuditData::Skip),
            "iteration_start" => typed(data, AuditData::IterationStart),
            "iteration_end" => typed(data, AuditData::IterationEnd),
            "sub_workflow_start" => typed(data, AuditData::SubWorkflowStart),
            "sub_workflow_end" => typed(data, AuditData::SubWorkflowEnd),
            "session" => typed(data, AuditData::Session),
            "control" => typed(data, AuditData::Control),
            "engine" => typed(data, AuditData::Engine),
            "warning" => typed(data, AuditData::Warning),
            "error" => typed(data, AuditData::Error),
            "interrupt" => typed(data, AuditData::Interrupt),
            "lock_takeover" => typed(data, AuditData::LockTakeover),
            "worktree" => typed(data, AuditData::Worktree),
            "output_repair" => typed(data, AuditData::OutputRepair),
            _ => AuditData::Unknown(data.clone()),
        }
    }
}

/// Serde helper: reads a JSON value of the wrong type as `None` instead of failing the record.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub fn option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: serde::de::DeserializeOwned,
    {
        let value = Value::deserialize(deserializer)?;
        Ok(T::deserialize(value).ok())
    }

    /// For a field that is written even when `null`: present → `Some`, its value read leniently.
    pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: serde::de::DeserializeOwned,
    {
        option(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests;
