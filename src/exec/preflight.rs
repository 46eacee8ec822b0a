//! Preflight (cli.md §4.5–§4.6): before the first step, check that every agent CLI the run will
//! certainly need is installed and logged in, and warn when interactive steps have no terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use super::dispatcher::Fatal;
use super::subflow::Loader;
use crate::workflow::{AgentMode, StepKind, Workflow};

/// Checks the agent CLIs of the workflow and its static sub-workflows (exit 4 on a problem).
///
/// Steps guarded by a `skip_if` (on the step or an enclosing step of the same file) are left to
/// run time: they may never run, so their CLI is not required up front.
pub fn check(loader: &mut Loader, workflow: &Arc<Workflow>) -> Result<(), Fatal> {
    super::agent::preflight(loader, workflow)
}

/// Warns when the root workflow has interactive steps but stdin or stdout is not a terminal.
pub fn warn_without_terminal(workflow: &Workflow) {
    let interactive = workflow.walk().any(|step| match &step.kind {
        StepKind::Agent(agent) => agent.mode == AgentMode::Interactive,
        StepKind::Shell(shell) => shell.interactive,
        _ => false,
    });
    if interactive && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        crate::console::warning(
            "this workflow has interactive steps but there is no terminal; they will fail when reached",
        );
    }
}
