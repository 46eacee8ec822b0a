//! Error classes (runs-and-state.md §7): the one vocabulary for why a step failed, shared by the
//! agent adapters, the terminal relay, the runtime, the state document and the audit log.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::exit;

/// Why a step failed, as written in the audit log and `last_failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The process exited non-zero (an agent CLI without saying why).
    ExitStatus,
    Signal,
    UndefinedVariable,
    CaptureTooLarge,
    Workdir,
    /// The CLI binary was not found.
    CliMissing,
    /// The CLI is not logged in.
    CliAuth,
    /// The CLI reported an error of its own (unknown session, refused flags, failed turn).
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
    /// A `timeout` or `idle_timeout` was reached (control.md §2).
    Timeout,
    /// A budget was exceeded (control.md §5), or claude's own `--max-budget-usd`.
    Budget,
    /// A step with `output:` produced no JSON value, or one that does not match its schema
    /// (control.md §7). Not retried by default.
    OutputInvalid,
}

impl ErrorClass {
    /// The spelling in the audit log and state.json.
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
            ErrorClass::Timeout => "timeout",
            ErrorClass::Budget => "budget",
            ErrorClass::OutputInvalid => "output_invalid",
        }
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

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_spelling_matches_as_str() {
        for class in [
            ErrorClass::ExitStatus,
            ErrorClass::UndefinedVariable,
            ErrorClass::CaptureTooLarge,
            ErrorClass::CliMissing,
            ErrorClass::NoTerminal,
            ErrorClass::SubWorkflow,
            ErrorClass::LoopExhausted,
            ErrorClass::EngineRejected,
            ErrorClass::InvalidValue,
            ErrorClass::Timeout,
            ErrorClass::OutputInvalid,
        ] {
            let json = serde_json::to_value(class).unwrap();
            assert_eq!(json, class.as_str());
            assert_eq!(serde_json::from_value::<ErrorClass>(json).unwrap(), class);
        }
    }
}
