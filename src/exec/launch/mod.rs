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
mod stage;

use std::path::Path;

use super::outcome::{ErrorClass, Failure};
use super::process::Launched;
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

    /// The client that runs `argv` headless in `workdir` on the other side, with `env` sent
    /// on its stdin (docs/launchers.md).
    pub fn command(
        &self,
        workdir: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<Launched, Failure> {
        let block = remote::env_block(env).map_err(invalid)?;
        let command = remote::RemoteCommand {
            workdir,
            env: remote::RemoteEnv::Stdin(remote::lines(&block)),
            argv,
            interactive: false,
        };
        Ok(Launched {
            argv: remote::local_argv(&self.argv, self.shell, &command),
            stdin: block.into_bytes(),
        })
    }

    /// The client's argv that runs `argv` in `workdir` on the other side with a remote
    /// terminal. Its stdin is that terminal, so `env` is first staged in a private file there
    /// by one more connection ([`stage`]); `Ok(None)` when the run was interrupted meanwhile.
    pub async fn interactive(
        &self,
        cx: &StepCtx<'_, '_>,
        workdir: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<Option<Vec<String>>, Failure> {
        let staged = if env.is_empty() {
            None
        } else {
            match stage::stage(cx, self, workdir, env).await? {
                Some(file) => Some(file),
                None => return Ok(None),
            }
        };
        let command = remote::RemoteCommand {
            workdir,
            env: staged
                .as_deref()
                .map_or(remote::RemoteEnv::None, remote::RemoteEnv::Staged),
            argv,
            interactive: true,
        };
        Ok(Some(remote::local_argv(&self.argv, self.shell, &command)))
    }
}

fn invalid(why: String) -> Failure {
    Failure::new(ErrorClass::InvalidValue, why)
}

/// The launcher the step runs through, if any: the step's own, else `profile` (the launcher of
/// an agent step's profile), else the workflow's `defaults.launcher`, else the configuration's.
pub fn target(cx: &StepCtx<'_, '_>, profile: Option<&Launcher>) -> Result<Option<Target>, Failure> {
    let config = cx.config();
    let Some(launcher) = chosen(cx.at.step, profile, &cx.at.ctx.workflow, &config) else {
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

/// Which launcher a step runs through, most specific first (see [`target`]); also what
/// `--dry-run` shows.
pub fn chosen<'a>(
    step: &'a crate::workflow::Step,
    profile: Option<&'a Launcher>,
    workflow: &'a crate::workflow::Workflow,
    config: &'a crate::config::Config,
) -> Option<&'a Launcher> {
    step.launcher
        .as_deref()
        .or(profile)
        .or(workflow.default_launcher.as_ref())
        .or(config.launcher.as_ref())
}
