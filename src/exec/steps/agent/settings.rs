//! Which CLI, model, effort and permissions an agent step runs with (workflow-format.md §14).
//!
//! The first value that is set wins, from the most specific layer down: the step, its profile,
//! the named-session declaration, the session being resumed, the workflow's `defaults`, then the
//! configuration (`clis.<cli>`, `default_*`, `permissions.<mode>`) and the built-in defaults.
//! Templates (`model`) are rendered by the caller through `render`. The profiles' `timeout`,
//! `idle_timeout` and `deny` are passed on for the layers of control.md §2 and §3.

use crate::config::{Config, Profile};
use crate::workflow::duration::StepLimits;
use crate::workflow::retry::Deny;
use crate::workflow::{AgentMode, AgentStep, Effort, Permissions, SessionDecl, Template, Workflow};

/// The settings an agent invocation runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub cli: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub permissions: Permissions,
    pub system_prompt: Option<String>,
    /// The launcher of the first profile that sets one (docs/launchers.md).
    pub launcher: Option<crate::workflow::launcher::Launcher>,
    /// The profiles' `timeout` and `idle_timeout` (the step's profile first).
    pub limits: StepLimits,
    /// The profiles' `deny` (the step's profile first).
    pub deny: Option<Deny>,
}

/// What the session being continued recorded (its CLI decides a resumed step's CLI).
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub cli: Option<String>,
    pub model: Option<String>,
    pub effort: Option<Effort>,
}

/// Inputs of one resolution.
pub struct Layers<'a> {
    pub step: &'a AgentStep,
    pub workflow: &'a Workflow,
    pub config: &'a Config,
    pub decl: Option<&'a SessionDecl>,
    pub recorded: Option<&'a Recorded>,
}

impl Layers<'_> {
    /// Resolves everything; `render` turns a model template into text.
    pub fn resolve(
        &self,
        render: &mut dyn FnMut(&Template) -> Result<String, String>,
    ) -> Result<Resolved, String> {
        let profile = |name: &Option<String>| -> Result<Option<Profile>, String> {
            match name {
                Some(name) => self
                    .config
                    .profile(name)
                    .map(Some)
                    .map_err(|err| err.to_string()),
                None => Ok(None),
            }
        };
        let step_profile = profile(&self.step.agent)?;
        let decl_profile = profile(&self.decl.and_then(|d| d.agent.clone()))?;
        let defaults_profile = profile(&self.workflow.defaults.agent)?;
        let default_cli = self
            .config
            .default_cli
            .clone()
            .unwrap_or_else(|| "claude".to_owned());

        let cli = first([
            self.step.cli.clone(),
            step_profile.as_ref().and_then(|p| p.cli.clone()),
            self.decl.and_then(|d| d.cli.clone()),
            decl_profile.as_ref().and_then(|p| p.cli.clone()),
            self.recorded.and_then(|r| r.cli.clone()),
            self.workflow.defaults.cli.clone(),
            defaults_profile.as_ref().and_then(|p| p.cli.clone()),
        ])
        .unwrap_or_else(|| default_cli.clone());

        let defaults_apply = self
            .workflow
            .defaults
            .cli
            .as_ref()
            .is_none_or(|c| *c == cli);
        let cli_config = self.config.clis.get(&cli);
        let mut model = match (&self.step.model, self.decl.and_then(|d| d.model.as_ref())) {
            (Some(template), _) => Some(render(template)?),
            (None, _) if step_profile.as_ref().is_some_and(|p| p.model.is_some()) => {
                step_profile.as_ref().and_then(|p| p.model.clone())
            }
            (None, Some(template)) => Some(render(template)?),
            (None, None) => None,
        };
        if model.is_none() {
            model = first([
                decl_profile.as_ref().and_then(|p| p.model.clone()),
                self.recorded.and_then(|r| r.model.clone()),
            ]);
        }
        if model.is_none() && defaults_apply {
            model = match &self.workflow.defaults.model {
                Some(template) => Some(render(template)?),
                None => defaults_profile.as_ref().and_then(|p| p.model.clone()),
            };
        }
        if model.is_none() {
            model = first([
                cli_config.and_then(|c| c.model.clone()),
                (cli == default_cli)
                    .then(|| self.config.default_model.clone())
                    .flatten(),
            ]);
        }

        let recorded_effort = self.recorded.and_then(|r| r.effort);
        let effort = first([
            self.step.effort,
            step_profile.as_ref().and_then(|p| p.effort),
            self.decl.and_then(|d| d.effort),
            decl_profile.as_ref().and_then(|p| p.effort),
            recorded_effort,
            defaults_apply
                .then_some(self.workflow.defaults.effort)
                .flatten(),
            defaults_apply
                .then(|| defaults_profile.as_ref().and_then(|p| p.effort))
                .flatten(),
            cli_config.and_then(|c| c.effort),
            (cli == default_cli)
                .then_some(self.config.default_effort)
                .flatten(),
        ]);

        let (mode_default, builtin) = match self.step.mode {
            AgentMode::Interactive => (self.config.permissions_interactive, Permissions::Ask),
            AgentMode::Headless => (self.config.permissions_headless, Permissions::Edit),
        };
        let permissions = first([
            self.step.permissions,
            step_profile.as_ref().and_then(|p| p.permissions),
            self.decl.and_then(|d| d.permissions),
            decl_profile.as_ref().and_then(|p| p.permissions),
            self.workflow.defaults.permissions,
            defaults_profile.as_ref().and_then(|p| p.permissions),
            mode_default,
        ])
        .unwrap_or(builtin);

        let profiles: Vec<Profile> = [step_profile, decl_profile, defaults_profile]
            .into_iter()
            .flatten()
            .collect();
        let limits = profiles
            .iter()
            .fold(StepLimits::default(), |set, p| set.or(p.limits));
        let deny = profiles.iter().find_map(|p| p.deny);
        let launcher = profiles.iter().find_map(|p| p.launcher.clone());
        let system_prompt = profiles.into_iter().find_map(|p| p.system_prompt);
        Ok(Resolved {
            cli,
            model,
            effort,
            permissions,
            system_prompt,
            launcher,
            limits,
            deny,
        })
    }
}

fn first<T, const N: usize>(options: [Option<T>; N]) -> Option<T> {
    options.into_iter().flatten().next()
}

/// The CLI a step will use when it can be known before the run (for preflight and labels): the
/// step's own settings and the configuration, without any session history.
pub fn static_cli(step: &AgentStep, workflow: &Workflow, config: &Config) -> Option<String> {
    static_settings(step, workflow, config).map(|r| r.cli)
}

/// The settings of [`static_cli`], all of them.
pub fn static_settings(step: &AgentStep, workflow: &Workflow, config: &Config) -> Option<Resolved> {
    if matches!(
        step.session,
        crate::workflow::SessionStrategy::Resume | crate::workflow::SessionStrategy::Inherit
    ) {
        return None;
    }
    let decl = workflow.session_decl(&step.session);
    let layers = Layers {
        step,
        workflow,
        config,
        decl,
        recorded: None,
    };
    layers
        .resolve(&mut |t: &Template| Ok(t.text().to_owned()))
        .ok()
}
