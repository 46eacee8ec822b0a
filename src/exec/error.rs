//! Errors that end a run at once, outside the step-failure rules (a failed step is a
//! [`super::outcome::Failure`], not one of these). Each variant knows its exit code (cli.md §8);
//! the ones whose diagnostics were already printed where they were found display as nothing.

use std::io;
use std::path::PathBuf;

use super::outcome::Failure;
use crate::exit;
use crate::state::StateError;
use crate::workflow::resolve::ResolveError;

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Locating, locking, reading or writing the run's files failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The configuration is invalid; its diagnostics were printed.
    #[error("")]
    InvalidConfig,
    /// A workflow file is invalid; its diagnostics were printed.
    #[error("")]
    InvalidWorkflow,
    /// The parameters do not fit the workflow; the error and usage were printed.
    #[error("")]
    Params,
    /// A parameter default does not render.
    #[error("{0}")]
    ParamDefault(#[source] Failure),
    /// The workflow name on the command line does not resolve.
    #[error(transparent)]
    UnknownWorkflow(#[from] ResolveError),
    /// `--resume <id>` names no run of this project.
    #[error(
        "no run \"{id}\" in this project (see \"agent-runner list\"){}",
        if *.is_workflow { format!("; to start workflow \"{id}\", leave out --resume") } else { String::new() }
    )]
    NoSuchRun { id: String, is_workflow: bool },
    /// `--from` names no step of the workflow.
    #[error("no step \"{from}\" in workflow \"{workflow}\"{hint}")]
    NoSuchStep {
        from: String,
        workflow: String,
        hint: String,
    },
    /// A sub-workflow on the way to the `--from` step cannot be loaded.
    #[error("{0}")]
    FromSubWorkflow(#[source] Failure),
    /// `--resume <id> --from <step>` of a run that completed: it has no position to go back to.
    #[error(
        "run {run_id} already completed; --from cannot restart it (start a new run instead: \"agent-runner {target} --from {from}\")"
    )]
    CompletedFrom {
        run_id: String,
        target: String,
        from: String,
    },
    /// The workflow file of a run being resumed is gone.
    #[error("cannot resume: workflow file {} no longer exists", .0.display())]
    WorkflowGone(PathBuf),
    /// The step a run stopped at is no longer in its (changed) workflow file.
    #[error(
        "cannot resume: step \"{step_id}\" no longer exists in {source_name}; use --resume {run_id} --from <step> to choose where to continue"
    )]
    StepGone {
        step_id: String,
        source_name: String,
        run_id: String,
    },
    /// The root workflow's engine cannot be attached or rejected the workflow.
    #[error("{0}")]
    Engine(String),
    /// Preflight: what the run needs and is missing (agent CLIs, logins, `requires:`), one
    /// message each.
    #[error("{}", unmet_message(.0))]
    Unmet(Vec<String>),
    #[error("cannot read the current directory: {0}")]
    CurrentDir(#[source] io::Error),
    /// `--stub` or `--stub-file` of `--simulate` is not usable.
    #[error("{0}")]
    Stubs(String),
    /// The temporary state directory of `--simulate` cannot be created.
    #[error("cannot create the simulation's state directory: {0}")]
    SimulationDir(#[source] io::Error),
    #[error("cannot listen for signals: {0}")]
    Signals(#[source] io::Error),
    #[error("cannot create a session id: {0}")]
    SessionId(#[source] io::Error),
    #[error("cannot create a control token: {0}")]
    ControlToken(#[source] io::Error),
    #[error("the terminal relay failed: {0}")]
    RelayTask(#[source] tokio::task::JoinError),
}

impl RunError {
    /// The exit code the run ends with (cli.md §8).
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::State(err) => err.exit_code(),
            RunError::Params
            | RunError::ParamDefault(_)
            | RunError::UnknownWorkflow(_)
            | RunError::NoSuchRun { .. }
            | RunError::NoSuchStep { .. }
            | RunError::FromSubWorkflow(_)
            | RunError::CompletedFrom { .. }
            | RunError::Stubs(_) => exit::USAGE,
            RunError::InvalidConfig
            | RunError::InvalidWorkflow
            | RunError::WorkflowGone(_)
            | RunError::StepGone { .. }
            | RunError::Engine(_) => exit::INVALID,
            RunError::Unmet(_)
            | RunError::CurrentDir(_)
            | RunError::SimulationDir(_)
            | RunError::Signals(_)
            | RunError::SessionId(_)
            | RunError::ControlToken(_)
            | RunError::RelayTask(_) => exit::RUNTIME,
        }
    }
}

/// One missing thing as it is; several as a list.
fn unmet_message(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => format!(
            "the run cannot start; {} things it needs are missing:\n  - {}",
            many.len(),
            many.join("\n  - ")
        ),
    }
}
