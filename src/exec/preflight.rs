//! Preflight (cli.md §4.5–§4.6): before the first step, check that every agent CLI the run will
//! certainly need is installed and logged in, and warn when interactive steps have no terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use super::error::RunError;
use super::subflow::Loader;
use crate::agents;
use crate::workflow::{AgentMode, StepKind, Workflow};

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

/// Checks the agent CLIs of the workflow and its static sub-workflows (exit 4 on a problem).
///
/// Steps guarded by a `skip_if` (on the step or an enclosing step of the same file) are left to
/// run time: they may never run, so their CLI is not required up front.
pub fn check(loader: &mut Loader, workflow: &Arc<Workflow>) -> Result<(), RunError> {
    let config = loader.config();
    let mut needed: Vec<(String, String)> = Vec::new();
    collect_clis(
        loader,
        workflow,
        &workflow.steps,
        "",
        &config,
        &mut needed,
        0,
    );
    let skip_login = std::env::var("AGENT_RUNNER_SKIP_PREFLIGHT").is_ok_and(|v| v == "1");
    let mut checked = std::collections::BTreeSet::new();
    for (cli, path) in needed {
        if !checked.insert(cli.clone()) {
            continue;
        }
        let Some(adapter) = agents::adapter(&cli) else {
            continue;
        };
        let cli_config = config.clis.get(&cli);
        let binary = agents::resolve_binary(
            &cli,
            cli_config.and_then(|c| c.binary.as_deref()),
            adapter.default_binary(),
            &|k| std::env::var(k).ok(),
        );
        let path_var = std::env::var_os("PATH");
        let Some(found) = agents::find_on_path(&binary, path_var.as_deref()) else {
            return Err(RunError::CliMissing {
                cli,
                step: path,
                hint: adapter.install_hint().to_owned(),
            });
        };
        if skip_login {
            continue;
        }
        if let Some(args) = adapter.preflight_args(&agents::process_env) {
            let status = std::process::Command::new(&found)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            if !status.is_ok_and(|s| s.success()) {
                let fix = match login_command(adapter.login_hint()) {
                    Some(command) => format!("run \"{command}\" and start again"),
                    None => format!("{}, and start again", adapter.login_hint()),
                };
                return Err(RunError::CliLoggedOut {
                    cli,
                    step: path,
                    fix,
                });
            }
        }
    }
    Ok(())
}

/// The command of a login hint: the first quoted part (`claude auth login` of
/// `run "claude auth login" (or start claude and type /login)`), if it has one.
fn login_command(hint: &str) -> Option<&str> {
    let (_, rest) = hint.split_once('"')?;
    rest.split_once('"').map(|(command, _)| command)
}

/// The statically known CLIs of `steps` (and static sub-workflows), with the path of the first
/// step that needs each. Steps under a `skip_if` may never run and are left to run time.
fn collect_clis(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    steps: &[crate::workflow::Step],
    prefix: &str,
    config: &crate::config::Config,
    out: &mut Vec<(String, String)>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    for step in steps {
        if step.skip_if.is_some() {
            continue;
        }
        let path = if prefix.is_empty() {
            step.id.clone()
        } else {
            format!("{prefix}/{}", step.id)
        };
        match &step.kind {
            StepKind::Agent(agent) => {
                if let Some(cli) =
                    super::steps::agent::settings::static_cli(agent, workflow, config)
                {
                    out.push((cli, path));
                }
            }
            StepKind::Loop(looped) => collect_clis(
                loader,
                workflow,
                &looped.steps,
                &path,
                config,
                out,
                depth + 1,
            ),
            StepKind::Group(children) => {
                collect_clis(loader, workflow, children, &path, config, out, depth + 1)
            }
            StepKind::SubWorkflow(call) if call.workflow.is_static() => {
                if let Ok(child) = loader.load_sub(call.workflow.text(), &workflow.source) {
                    collect_clis(
                        loader,
                        &child,
                        &child.steps.clone(),
                        &path,
                        config,
                        out,
                        depth + 1,
                    );
                }
            }
            _ => {}
        }
    }
}
