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
    /// The provider throttled the request (HTTP 429).
    RateLimit,
    /// The provider is overloaded or failed (HTTP 529, 5xx).
    Overloaded,
    /// The provider could not be reached (DNS, refused or reset connections, a cut stream).
    Network,
    /// The account's usage limit is reached; `reset_at` says when it resets, when known.
    Quota,
    /// The CLI stopped at its own turn limit.
    MaxTurns,
    /// A budget was exceeded (control.md §5, or the CLI's own budget flag).
    Budget,
    /// A step with `output:` produced no JSON value, or one that does not match its schema
    /// (control.md §7). Not retried by default.
    OutputInvalid,
    /// The agent asked the user a question in a headless step.
    AgentQuestion,
    /// The session to resume does not exist.
    SessionMissing,
    /// Tool calls were denied and the step has `deny: fail`.
    PermissionDenied,
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
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::Overloaded => "overloaded",
            ErrorClass::Network => "network",
            ErrorClass::Quota => "quota",
            ErrorClass::MaxTurns => "max_turns",
            ErrorClass::Budget => "budget",
            ErrorClass::OutputInvalid => "output_invalid",
            ErrorClass::AgentQuestion => "agent_question",
            ErrorClass::SessionMissing => "session_missing",
            ErrorClass::PermissionDenied => "permission_denied",
        }
    }

    /// Every class, in the order of runs-and-state.md §7 and control.md §11.
    pub const ALL: &'static [ErrorClass] = &[
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
        ErrorClass::Timeout,
        ErrorClass::RateLimit,
        ErrorClass::Overloaded,
        ErrorClass::Network,
        ErrorClass::Quota,
        ErrorClass::MaxTurns,
        ErrorClass::Budget,
        ErrorClass::OutputInvalid,
        ErrorClass::AgentQuestion,
        ErrorClass::SessionMissing,
        ErrorClass::PermissionDenied,
    ];

    /// The class spelled `name`.
    pub fn parse(name: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The classes of control.md §3, which the console shows after a failure's message
    /// (`[rate_limit]`): they say what kind of trouble it was, and what `retry.on` matches.
    pub fn shown(self) -> bool {
        matches!(
            self,
            ErrorClass::Timeout
                | ErrorClass::RateLimit
                | ErrorClass::Overloaded
                | ErrorClass::Network
                | ErrorClass::Quota
                | ErrorClass::MaxTurns
                | ErrorClass::Budget
                | ErrorClass::OutputInvalid
                | ErrorClass::AgentQuestion
                | ErrorClass::SessionMissing
                | ErrorClass::PermissionDenied
        )
    }

    /// The classes `retry.on` defaults to (control.md §4): troubles that pass.
    pub const TRANSIENT: &'static [ErrorClass] = &[
        ErrorClass::Timeout,
        ErrorClass::RateLimit,
        ErrorClass::Overloaded,
        ErrorClass::Network,
    ];

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
        for &class in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(class.as_str()), Some(class));
            let json = serde_json::to_value(class).unwrap();
            assert_eq!(json, class.as_str());
            assert_eq!(serde_json::from_value::<ErrorClass>(json).unwrap(), class);
        }
    }
}
