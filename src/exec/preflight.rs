//! Preflight (cli.md §4.5–§4.6): before the first step, check that every agent CLI the run will
//! certainly need is installed and logged in and that what the workflows' `requires:` lists is
//! there, naming every problem at once; and warn when interactive steps have no terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::error::RunError;
use super::subflow::Loader;
use crate::agents;
use crate::workflow::requires::{Need, Requirement};
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

/// Checks, before the first step, everything the run will certainly need: the agent CLIs of the
/// workflow and its static sub-workflows (installed and logged in) and what their `requires:`
/// lists (programs on `PATH`, paths in the project). Every problem is named at once (exit 4).
///
/// Steps guarded by a `skip_if` (on the step or an enclosing step of the same file) are left to
/// run time: they may never run, so their CLI and their sub-workflow's needs are not required up
/// front.
pub fn check(loader: &mut Loader, workflow: &Arc<Workflow>) -> Result<(), RunError> {
    let config = loader.config();
    let mut needed = Needed::default();
    needed.requirements(workflow);
    collect(
        loader,
        workflow,
        &workflow.steps,
        "",
        &config,
        &mut needed,
        0,
    );
    let mut problems = cli_problems(&needed.clis, &config);
    problems.extend(requirement_problems(
        &needed.requires,
        &loader.project().dir,
    ));
    if let Some(step) = &needed.worktree {
        problems.extend(worktree_problem(step, &loader.project().dir));
    }
    problems.extend(needed.launchers.problems(&loader.project().dir));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunError::Unmet(problems))
    }
}

/// What a run needs, gathered from its workflow files.
#[derive(Default)]
struct Needed {
    /// Each CLI with the path of the first step that needs it.
    clis: Vec<(String, String)>,
    /// Each requirement with the workflow that declares it.
    requires: Vec<(Requirement, String)>,
    /// The path of the first step with `worktree: true`: the project must be in a git
    /// repository with a commit.
    worktree: Option<String>,
    /// The launchers of the steps (docs/launchers.md).
    launchers: super::launch::preflight::Launchers,
}

impl Needed {
    fn requirements(&mut self, workflow: &Workflow) {
        for requirement in &workflow.requires {
            if !self
                .requires
                .iter()
                .any(|(known, _)| known.need == requirement.need)
            {
                self.requires
                    .push((requirement.clone(), workflow.name.clone()));
            }
        }
    }
}

/// The agent CLIs that are missing or not logged in, one message each.
fn cli_problems(needed: &[(String, String)], config: &crate::config::Config) -> Vec<String> {
    let skip_login = std::env::var("AGENT_RUNNER_SKIP_PREFLIGHT").is_ok_and(|v| v == "1");
    let mut checked = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for (cli, path) in needed {
        if !checked.insert(cli.clone()) {
            continue;
        }
        let Some(adapter) = agents::adapter(cli) else {
            continue;
        };
        let cli_config = config.clis.get(cli);
        let binary = agents::resolve_binary(
            cli,
            cli_config.and_then(|c| c.binary.as_deref()),
            adapter.default_binary(),
            &|k| std::env::var(k).ok(),
        );
        let path_var = std::env::var_os("PATH");
        let Some(found) = agents::find_on_path(&binary, path_var.as_deref()) else {
            problems.push(format!(
                "the \"{cli}\" CLI is not installed or not on PATH (needed by step \"{path}\"); {}",
                adapter.install_hint()
            ));
            continue;
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
                problems.push(format!(
                    "{cli} is not logged in (needed by step \"{path}\"); {fix}"
                ));
            }
        }
    }
    problems
}

/// The `requires:` entries that are not met, one message each.
fn requirement_problems(needed: &[(Requirement, String)], project: &Path) -> Vec<String> {
    let path_var = std::env::var_os("PATH");
    let mut problems = Vec::new();
    for (requirement, workflow) in needed {
        let problem = match &requirement.need {
            Need::Program(program) => agents::find_on_path(program, path_var.as_deref())
                .is_none()
                .then(|| format!("\"{program}\" is not installed or not on PATH (required by workflow \"{workflow}\")")),
            Need::Path(path) => (!project.join(path).exists()).then(|| {
                format!("{path} does not exist in the project (required by workflow \"{workflow}\")")
            }),
        };
        if let Some(mut problem) = problem {
            if let Some(hint) = &requirement.hint {
                problem.push_str("; ");
                problem.push_str(hint);
            }
            problems.push(problem);
        }
    }
    problems
}

/// `worktree-not-git` (control.md §8): a step with `worktree: true` and no repository (or no
/// commit, or no git) to make worktrees in.
fn worktree_problem(step: &str, project: &Path) -> Option<String> {
    let err = crate::worktree::Repo::discover(project).err()?;
    let fix = match err {
        crate::worktree::WorktreeError::NoCommit(_) => "make a first commit",
        _ => "run it in a git repository (\"git init\" and a first commit), or remove \"worktree\"",
    };
    Some(format!(
        "step \"{step}\" has \"worktree: true\", which needs a git repository, but {err} (worktree-not-git); {fix}"
    ))
}

/// The command of a login hint: the first quoted part (`claude auth login` of
/// `run "claude auth login" (or start claude and type /login)`), if it has one.
fn login_command(hint: &str) -> Option<&str> {
    let (_, rest) = hint.split_once('"')?;
    rest.split_once('"').map(|(command, _)| command)
}

/// The statically known CLIs of `steps` (with the path of the first step that needs each) and
/// the requirements of static sub-workflows. Steps under a `skip_if` may never run and are left
/// to run time.
fn collect(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    steps: &[crate::workflow::Step],
    prefix: &str,
    config: &crate::config::Config,
    out: &mut Needed,
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
        if step.worktree && out.worktree.is_none() {
            out.worktree = Some(path.clone());
        }
        match &step.kind {
            StepKind::Agent(agent) => {
                let resolved =
                    super::steps::agent::settings::static_settings(agent, workflow, config);
                let profile = resolved.as_ref().and_then(|r| r.launcher.as_ref());
                let launcher = super::launch::chosen(step, profile, workflow, config);
                match (launcher, &resolved) {
                    // The CLI is on the other side, out of preflight's reach.
                    (Some(launcher), _) => out.launchers.add(launcher, &path),
                    (None, Some(resolved)) => out.clis.push((resolved.cli.clone(), path)),
                    (None, None) => {}
                }
            }
            StepKind::Shell(_) => {
                if let Some(launcher) = super::launch::chosen(step, None, workflow, config) {
                    out.launchers.add(launcher, &path);
                }
            }
            StepKind::Loop(looped) => collect(
                loader,
                workflow,
                &looped.steps,
                &path,
                config,
                out,
                depth + 1,
            ),
            StepKind::Group(children) => {
                collect(loader, workflow, children, &path, config, out, depth + 1)
            }
            StepKind::SubWorkflow(call) if call.workflow.is_static() => {
                if let Ok(child) = loader.load_sub(call.workflow.text(), &workflow.source) {
                    out.requirements(&child);
                    collect(
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
