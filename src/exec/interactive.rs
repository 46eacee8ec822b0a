//! Interactive steps (agent and shell) through the terminal relay of the `pty` module.

use super::dispatcher::{Dispatcher, Fatal};
use super::outcome::{ErrorClass, Failure};
use super::step::{At, Report};
use crate::agents::{self, Adapter, EnvLayers, Invocation};

pub async fn run_shell_relay(
    _d: &mut Dispatcher,
    _at: &At<'_>,
    _seq: u64,
    _command: &str,
    _workdir: std::path::PathBuf,
    _env: Vec<(String, String)>,
) -> Result<Report, Fatal> {
    Ok(Report::failed(Failure::new(
        ErrorClass::Internal,
        "interactive steps are not wired yet",
    )))
}

#[allow(clippy::too_many_arguments)]
pub async fn run_agent_relay(
    _d: &mut Dispatcher,
    _at: &At<'_>,
    _adapter: &'static dyn Adapter,
    _invocation: &Invocation,
    _spec: agents::CommandSpec,
    _layers: &mut EnvLayers,
    _stem: &str,
    known: Option<String>,
) -> Result<(Report, Option<String>), Fatal> {
    Ok((
        Report::failed(Failure::new(
            ErrorClass::Internal,
            "interactive steps are not wired yet",
        )),
        known,
    ))
}
