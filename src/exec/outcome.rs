//! What a step produced: outcomes, failures and their error classes (runs-and-state.md §7).

use std::fmt;

use crate::exit;

/// Error classes of step failures, as written in the audit log and `last_failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    ExitStatus,
    Signal,
    UndefinedVariable,
    CaptureTooLarge,
    Workdir,
    CliMissing,
    CliAuth,
    CliError,
    NoTerminal,
    SubWorkflow,
    Glob,
    LoopExhausted,
    EngineRejected,
    /// A value rendered at run time is not valid where it is used (e.g. a loop `max` that is
    /// not a number). Not in the spec's list, which has no class for it; a workflow failure.
    InvalidValue,
    Interrupted,
    Internal,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::ExitStatus => "exit_status",
            ErrorClass::Signal => "signal",
            ErrorClass::UndefinedVariable => "undefined_variable",
            ErrorClass::CaptureTooLarge => "capture_too_large",
            ErrorClass::Workdir => "workdir",
            ErrorClass::CliMissing => "cli_missing",
            ErrorClass::CliAuth => "cli_auth",
            ErrorClass::CliError => "cli_error",
            ErrorClass::NoTerminal => "no_terminal",
            ErrorClass::SubWorkflow => "sub_workflow",
            ErrorClass::Glob => "glob",
            ErrorClass::LoopExhausted => "loop_exhausted",
            ErrorClass::EngineRejected => "engine_rejected",
            ErrorClass::InvalidValue => "invalid_value",
            ErrorClass::Interrupted => "interrupted",
            ErrorClass::Internal => "internal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ALL_CLASSES
            .iter()
            .copied()
            .find(|class| class.as_str() == text)
    }

    /// The exit code of a run that ends on a failure of this class (cli.md §8).
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::CliMissing
            | ErrorClass::CliAuth
            | ErrorClass::NoTerminal
            | ErrorClass::Internal => exit::RUNTIME,
            _ => exit::WORKFLOW_FAILED,
        }
    }
}

const ALL_CLASSES: &[ErrorClass] = &[
    ErrorClass::ExitStatus,
    ErrorClass::Signal,
    ErrorClass::UndefinedVariable,
    ErrorClass::CaptureTooLarge,
    ErrorClass::Workdir,
    ErrorClass::CliMissing,
    ErrorClass::CliAuth,
    ErrorClass::CliError,
    ErrorClass::NoTerminal,
    ErrorClass::SubWorkflow,
    ErrorClass::Glob,
    ErrorClass::LoopExhausted,
    ErrorClass::EngineRejected,
    ErrorClass::InvalidValue,
    ErrorClass::Interrupted,
    ErrorClass::Internal,
];

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    /// The reason as printed after `failed: ` (e.g. `exit status 101`).
    pub message: String,
    /// Set when the failure happened in a step below this one; the run reports the deepest path.
    pub path: Option<String>,
    /// Display path of the step that failed first, for the final console line.
    pub display: Option<String>,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            message: message.into(),
            path: None,
            display: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How a step (or a whole step list) ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    Success,
    Failed(Failure),
    /// The run is being interrupted; nothing else starts.
    Interrupted,
    /// A `break_if` matched below; the nearest enclosing loop of the same file ends successfully.
    Break,
}
