//! Launchers (docs/launchers.md): running a shell or agent step's process through an argv
//! prefix such as `[ssh, build-box, --]` or `[docker, exec, -i, box]`.
//!
//! [`target`] picks the step's launcher (most specific first: the step, its agent profile, the
//! workflow's `defaults`, the configuration) and renders it; [`remote`] builds the command line
//! the other side runs. The local client is spawned like any step process (own process group,
//! stopped with it); its stdin is a pipe the runner holds open until the step ends, which is how
//! the other side learns that the step was stopped (see [`remote`]).

pub mod preflight;
pub mod remote;

use std::path::Path;

use super::outcome::{ErrorClass, Failure};
use super::run::StepCtx;
use crate::workflow::launcher::Launcher;

/// A step's launcher, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub argv: Vec<String>,
    /// The other side reads one shell command line (ssh).
    pub shell: bool,
    pub max_concurrent: Option<u32>,
}

impl Target {
    /// The key of its `max_concurrent` cap: the rendered argv.
    pub fn key(&self) -> String {
        self.argv.join(" ")
    }

    /// The local argv that runs `argv` in `workdir` with `env` on the other side.
    pub fn command(
        &self,
        workdir: &Path,
        env: &[(String, String)],
        argv: &[String],
        interactive: bool,
    ) -> Result<Vec<String>, Failure> {
        let command = remote::RemoteCommand {
            workdir,
            env,
            argv,
            interactive,
        };
        remote::local_argv(&self.argv, self.shell, &command)
            .map_err(|why| Failure::new(ErrorClass::InvalidValue, why))
    }
}

/// The launcher the step runs through, if any: the step's own, else `profile` (the launcher of
/// an agent step's profile), else the workflow's `defaults.launcher`, else the configuration's.
pub fn target(cx: &StepCtx<'_, '_>, profile: Option<&Launcher>) -> Result<Option<Target>, Failure> {
    let config = cx.config();
    let chosen = cx
        .at
        .step
        .launcher
        .as_ref()
        .or(profile)
        .or(cx.at.ctx.workflow.default_launcher.as_ref())
        .or(config.launcher.as_ref());
    let Some(launcher) = chosen else {
        return Ok(None);
    };
    let argv = launcher
        .argv
        .iter()
        .map(|word| cx.render(word))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Target {
        argv,
        shell: launcher.shell,
        max_concurrent: launcher.max_concurrent,
    }))
}
