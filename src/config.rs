//! Configuration files (workflow-format.md §14): the user's `config.yaml` and the project's
//! `.agent-runner/config.yaml`, validated strictly and merged (user < project).
//!
//! Every problem is an `error[config]` diagnostic with a position, in the same format as workflow
//! diagnostics. Profiles are kept as written; [`Config::profile`] resolves an `extends` chain
//! child-over-parent and reports a cycle as `profile cycle: a -> b -> a`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::compat;
use crate::workflow::Diagnostic;
use crate::workflow::budget::{Budget, read_budget};
use crate::workflow::duration::{StepLimits, read_duration, read_limits};
use crate::workflow::fields::{A_STRING, MapReader, Sink, Target};
use crate::workflow::launcher::{self, Launcher};
use crate::workflow::loader::{read_limited, resolve_findings};
use crate::workflow::model::{AgentMode, CLI_NAMES, Effort, Permissions};
use crate::workflow::positions::join;
use crate::workflow::resolve::Project;
use crate::workflow::yaml::{self, Node};

pub const CONFIG_KEYS: &[&str] = &[
    "default_cli",
    "default_model",
    "default_effort",
    "permissions",
    "clis",
    "profiles",
    "shell",
    "interactive",
    "redact",
    "default_mode",
    "active_profile",
    "timeout",
    "idle_timeout",
    "kill_grace",
    "budget",
    "deny",
    "max_concurrent_agents",
    "launcher",
];
const CLI_KEYS: &[&str] = &[
    "binary",
    "extra_args",
    "model",
    "effort",
    "env",
    "timeout",
    "idle_timeout",
    "max_concurrent",
];
const PROFILE_KEYS: &[&str] = &[
    "cli",
    "model",
    "effort",
    "permissions",
    "system_prompt",
    "extends",
    "default_mode",
    "launcher",
    "timeout",
    "idle_timeout",
    "deny",
];
const INTERACTIVE_KEYS: &[&str] = &["idle_hint", "idle_hint_after", "stop_grace"];

/// One configuration layer, or several merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub default_cli: Option<String>,
    pub default_model: Option<String>,
    pub default_effort: Option<Effort>,
    pub permissions_interactive: Option<Permissions>,
    pub permissions_headless: Option<Permissions>,
    pub clis: BTreeMap<String, CliConfig>,
    pub profiles: BTreeMap<String, Profile>,
    pub shell: Option<String>,
    pub idle_hint: Option<bool>,
    pub idle_hint_after: Option<Duration>,
    pub stop_grace: Option<Duration>,
    pub redact: Option<Vec<String>>,
    /// `timeout` and `idle_timeout` of shell and agent steps (control.md §2).
    pub limits: StepLimits,
    /// How long a timed-out step's group has between SIGTERM and SIGKILL.
    pub kill_grace: Option<Duration>,
    /// The run budget of every run (control.md §5), key by key under the workflow's.
    pub budget: Budget,
    /// What a headless step does when tool calls were denied (control.md §3).
    pub deny: Option<crate::workflow::retry::Deny>,
    /// How many agent processes may run at once in the whole run (control.md §8).
    pub max_concurrent_agents: Option<u32>,
    /// Where shell and agent steps run when nothing more specific says (docs/launchers.md).
    pub launcher: Option<Launcher>,
    /// Go-era `default_mode` (compat-go.md §1): the mode of prompt steps that get none otherwise.
    pub default_mode: Option<AgentMode>,
    /// A file has the Go shape (`default_mode`, `active_profile` or `profiles.<p>.agents`).
    pub go_project: bool,
    /// Go `active_profile` (project file) and profile sets, resolved once every layer is read.
    pub active_profile: Option<String>,
    pub profile_sets: compat::config::ProfileSets,
    /// Warnings of the files read (deprecations, Go-only keys), printed once per run.
    pub warnings: Vec<Diagnostic>,
}

/// `clis.<cli>`
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CliConfig {
    pub binary: Option<String>,
    pub extra_args: Option<Vec<String>>,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub env: BTreeMap<String, String>,
    /// How many processes of this CLI may run at once in the whole run (control.md §8).
    pub max_concurrent: Option<u32>,
    /// `timeout` and `idle_timeout` of this CLI's agent steps.
    pub limits: StepLimits,
}

/// `profiles.<name>`
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub cli: Option<String>,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub permissions: Option<Permissions>,
    pub system_prompt: Option<String>,
    pub extends: Option<String>,
    /// Go-era `default_mode` of the profile (compat-go.md §1).
    pub default_mode: Option<AgentMode>,
    /// Where the profile's agent steps run (docs/launchers.md).
    pub launcher: Option<Launcher>,
    /// `timeout` and `idle_timeout` of the steps that use the profile (control.md §2).
    pub limits: StepLimits,
    /// `deny` of the headless steps that use the profile (control.md §3).
    pub deny: Option<crate::workflow::retry::Deny>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("profile cycle: {}", .0.join(" -> "))]
    ProfileCycle(Vec<String>),
    #[error("unknown agent profile \"{0}\"")]
    UnknownProfile(String),
    #[error("profile \"{profile}\" extends unknown profile \"{parent}\"")]
    UnknownParent { profile: String, parent: String },
}

impl Config {
    /// `higher` over `self`: scalars and lists replace, mappings merge key by key, and a profile
    /// replaces the lower profile of the same name as a whole.
    pub fn merged(mut self, higher: Config) -> Config {
        fn over<T>(low: &mut Option<T>, high: Option<T>) {
            if high.is_some() {
                *low = high;
            }
        }
        over(&mut self.default_cli, higher.default_cli);
        over(&mut self.default_model, higher.default_model);
        over(&mut self.default_effort, higher.default_effort);
        over(
            &mut self.permissions_interactive,
            higher.permissions_interactive,
        );
        over(&mut self.permissions_headless, higher.permissions_headless);
        over(&mut self.shell, higher.shell);
        over(&mut self.idle_hint, higher.idle_hint);
        over(&mut self.idle_hint_after, higher.idle_hint_after);
        over(&mut self.stop_grace, higher.stop_grace);
        over(&mut self.redact, higher.redact);
        self.limits = higher.limits.or(self.limits);
        over(&mut self.kill_grace, higher.kill_grace);
        self.budget = higher.budget.or(self.budget);
        over(&mut self.deny, higher.deny);
        over(
            &mut self.max_concurrent_agents,
            higher.max_concurrent_agents,
        );
        over(&mut self.default_mode, higher.default_mode);
        over(&mut self.launcher, higher.launcher);
        self.go_project |= higher.go_project;
        over(&mut self.active_profile, higher.active_profile);
        self.profile_sets.merge(higher.profile_sets);
        self.warnings.extend(higher.warnings);
        for (name, high) in higher.clis {
            let low = self.clis.entry(name).or_default();
            over(&mut low.binary, high.binary);
            over(&mut low.extra_args, high.extra_args);
            over(&mut low.model, high.model);
            over(&mut low.effort, high.effort);
            low.env.extend(high.env);
            over(&mut low.max_concurrent, high.max_concurrent);
            low.limits = high.limits.or(low.limits);
        }
        self.profiles.extend(higher.profiles);
        self
    }

    /// Profile `name` with its `extends` chain applied (child over parent).
    pub fn profile(&self, name: &str) -> Result<Profile, ConfigError> {
        let mut chain: Vec<String> = Vec::new();
        let mut current = name.to_owned();
        loop {
            if chain.contains(&current) {
                chain.push(current);
                return Err(ConfigError::ProfileCycle(chain));
            }
            let Some(profile) = self.profiles.get(&current) else {
                return Err(match chain.last() {
                    None => ConfigError::UnknownProfile(current),
                    Some(child) => ConfigError::UnknownParent {
                        profile: child.clone(),
                        parent: current,
                    },
                });
            };
            chain.push(current.clone());
            match &profile.extends {
                Some(parent) => current = parent.clone(),
                None => break,
            }
        }
        let mut resolved = Profile::default();
        for name in chain.iter().rev() {
            if let Some(p) = self.profiles.get(name) {
                resolved.cli = p.cli.clone().or(resolved.cli);
                resolved.model = p.model.clone().or(resolved.model);
                resolved.effort = p.effort.or(resolved.effort);
                resolved.permissions = p.permissions.or(resolved.permissions);
                resolved.system_prompt = p.system_prompt.clone().or(resolved.system_prompt);
                resolved.default_mode = p.default_mode.or(resolved.default_mode);
                resolved.launcher = p.launcher.clone().or(resolved.launcher);
                resolved.limits = p.limits.or(resolved.limits);
                resolved.deny = p.deny.or(resolved.deny);
            }
        }
        resolved.extends = None;
        Ok(resolved)
    }

    /// Problems of the profile set as a whole: cycles and unknown parents, one per profile.
    pub fn profile_errors(&self) -> Vec<(String, ConfigError)> {
        let mut errors: Vec<(String, ConfigError)> = Vec::new();
        for name in self.profiles.keys() {
            let reported = |e: &ConfigError| match e {
                ConfigError::ProfileCycle(chain) => chain.contains(name),
                _ => false,
            };
            if let Err(err) = self.profile(name)
                && !errors.iter().any(|(_, e)| *e == err || reported(e))
            {
                errors.push((name.clone(), err));
            }
        }
        errors
    }
}

/// The user and project configuration, merged; `Err` holds every `error[config]` diagnostic.
pub fn load(project: &Project) -> Result<Config, Vec<Diagnostic>> {
    // The profiles the Go tool created implicitly are the lowest layer (compat-go.md §1).
    let mut config = Config {
        profiles: compat::profiles::implicit_profiles(),
        ..Config::default()
    };
    let mut diagnostics = Vec::new();
    let files = [
        project.user_dir.as_ref().map(|d| d.join("config.yaml")),
        Some(project.config_dir().join("config.yaml")),
    ];
    for path in files.into_iter().flatten() {
        if !path.is_file() {
            continue;
        }
        let (mut layer, found) = load_file(&path, &project.show_path(&path));
        let (errors, warnings): (Vec<_>, Vec<_>) =
            found.into_iter().partition(Diagnostic::is_error);
        diagnostics.extend(errors);
        layer.warnings = warnings;
        config = config.merged(layer);
    }
    // Go profile sets across layers: the active set's agents become profiles.
    if !config.profile_sets.is_empty() {
        match config
            .profile_sets
            .active_agents(config.active_profile.as_deref())
        {
            Ok(agents) => config.profiles.extend(agents),
            Err(message) => {
                let mut d = Diagnostic::error("config", message);
                d.file = "configuration".to_owned();
                diagnostics.push(d);
            }
        }
    }
    for (_, err) in config.profile_errors() {
        if matches!(err, ConfigError::UnknownParent { .. }) {
            let mut d = Diagnostic::error("config", err.to_string());
            d.file = "configuration".to_owned();
            diagnostics.push(d);
        }
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics)
    } else {
        Ok(config)
    }
}

/// Reads and validates one configuration file. `file` is the name diagnostics show.
pub fn load_file(path: &Path, file: &str) -> (Config, Vec<Diagnostic>) {
    let bytes = match read_limited(path) {
        Ok(bytes) => bytes,
        Err(message) => {
            let mut d = Diagnostic::error(
                "config",
                format!("cannot read configuration file: {message}"),
            );
            d.file = file.to_owned();
            return (Config::default(), vec![d]);
        }
    };
    load_bytes(&bytes, file)
}

/// Validates configuration bytes.
pub fn load_bytes(bytes: &[u8], file: &str) -> (Config, Vec<Diagnostic>) {
    let fail = |message: String, line: Option<usize>, column: Option<usize>| {
        let mut d = Diagnostic::error("config", message);
        d.file = file.to_owned();
        d.line = line;
        d.column = column;
        (Config::default(), vec![d])
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return fail(
            "the configuration file is not valid UTF-8".to_owned(),
            None,
            None,
        );
    };
    let node = match yaml::parse(text) {
        Ok(node) => node,
        Err(err) => return fail(err.message, err.line, err.column),
    };
    let mut sink = Sink::default();
    let config = match &node {
        Node::Map(entries) => read_config(&MapReader::new(entries, ""), &mut sink),
        Node::Null => Config::default(),
        other => {
            sink.error(
                "config",
                format!(
                    "a configuration file must be a YAML mapping, found {}",
                    other.describe()
                ),
                "",
                Target::Value,
            );
            Config::default()
        }
    };
    for (name, err) in config.profile_errors() {
        if let ConfigError::ProfileCycle(_) = err {
            sink.error(
                "config",
                err.to_string(),
                &join("profiles", &name),
                Target::Key,
            );
        }
    }
    let mut findings = sink.findings;
    if config.go_project {
        compat::config::go_file_findings(&mut findings);
    }
    let mut diagnostics = resolve_findings(findings, text, file);
    for d in &mut diagnostics {
        if d.is_error() {
            d.code = "config";
        }
    }
    (config, diagnostics)
}

fn read_config(r: &MapReader<'_, '_>, sink: &mut Sink) -> Config {
    r.check_keys(CONFIG_KEYS, sink);
    let mut config = Config {
        default_cli: cli_name(r, "default_cli", sink),
        default_model: r.string("default_model", sink).map(str::to_owned),
        default_effort: r.keyword("default_effort", Effort::ALL, Effort::parse, sink),
        shell: r.nonempty_string("shell", sink).map(str::to_owned),
        redact: string_list(r, "redact", sink),
        default_mode: compat::config::mode(r, sink),
        go_project: compat::config::is_go_file(r),
        active_profile: r.string("active_profile", sink).map(str::to_owned),
        limits: read_limits(r, sink),
        kill_grace: read_duration(r, "kill_grace", sink),
        budget: read_budget(r, sink).unwrap_or_default(),
        deny: crate::workflow::retry::read_deny(r, sink),
        max_concurrent_agents: r.positive_int("max_concurrent_agents", "config", sink),
        launcher: launcher::read(r, sink, &mut launcher::plain_word),
        ..Config::default()
    };
    if let Some(patterns) = &config.redact {
        for (i, pattern) in patterns.iter().enumerate() {
            if let Err(err) = regex::Regex::new(pattern) {
                let first = err
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                sink.error(
                    "config",
                    format!("invalid regex in \"redact\": {first}"),
                    &join("redact", &i.to_string()),
                    Target::Value,
                );
            }
        }
    }
    if let Some(entries) = r.map("permissions", sink) {
        let p = MapReader::new(entries, "permissions");
        p.check_keys(&["interactive", "headless"], sink);
        config.permissions_interactive =
            p.keyword("interactive", Permissions::ALL, Permissions::parse, sink);
        config.permissions_headless =
            p.keyword("headless", Permissions::ALL, Permissions::parse, sink);
    }
    if let Some(entries) = r.map("interactive", sink) {
        let i = MapReader::new(entries, "interactive");
        i.check_keys(INTERACTIVE_KEYS, sink);
        config.idle_hint = i.bool("idle_hint", sink);
        config.idle_hint_after = read_duration(&i, "idle_hint_after", sink);
        config.stop_grace = read_duration(&i, "stop_grace", sink);
    }
    if let Some(entries) = r.map("clis", sink) {
        for (cli, node) in entries {
            let path = join("clis", cli);
            if !CLI_NAMES.contains(&cli.as_str()) {
                let hint = crate::compat::workflow::cli_hint(cli);
                sink.error(
                    "config",
                    format!(
                        "unknown cli \"{cli}\"{hint}; available: {}",
                        CLI_NAMES.join(", ")
                    ),
                    &path,
                    Target::Key,
                );
                continue;
            }
            let Node::Map(fields) = node else {
                sink.wrong_type(cli, "a mapping", node, &path);
                continue;
            };
            let c = MapReader::new(fields, &path);
            c.check_keys(CLI_KEYS, sink);
            let mut env = BTreeMap::new();
            if let Some(vars) = c.map("env", sink) {
                for (key, value) in vars {
                    match value.scalar_text() {
                        Some(text) => {
                            env.insert(key.clone(), text);
                        }
                        None => sink.wrong_type(key, A_STRING, value, c.path_of("env").key(key)),
                    }
                }
            }
            config.clis.insert(
                cli.clone(),
                CliConfig {
                    binary: c.nonempty_string("binary", sink).map(str::to_owned),
                    extra_args: string_list(&c, "extra_args", sink),
                    model: c.string("model", sink).map(str::to_owned),
                    effort: c.keyword("effort", Effort::ALL, Effort::parse, sink),
                    env,
                    max_concurrent: c.positive_int("max_concurrent", "config", sink),
                    limits: read_limits(&c, sink),
                },
            );
        }
    }
    if let Some(entries) = r.map("profiles", sink) {
        let mut sets = compat::config::ProfileSets::default();
        for (name, node) in entries {
            let path = join("profiles", name);
            let Node::Map(fields) = node else {
                sink.wrong_type(name, "a mapping", node, &path);
                continue;
            };
            let p = MapReader::new(fields, &path);
            if p.has("agents") {
                sets.read(name, &p, sink);
                continue;
            }
            config.profiles.insert(name.clone(), read_profile(&p, sink));
        }
        config
            .profiles
            .extend(sets.file_agents(config.active_profile.as_deref(), sink));
        config.profile_sets = sets;
    }
    if config.default_mode.is_some() || config.profiles.values().any(|p| p.default_mode.is_some()) {
        compat::config::deprecate_default_mode(r, sink);
    }
    config
}

/// One profile mapping (`profiles.<name>`, or a Go `profiles.<set>.agents.<name>`).
pub(crate) fn read_profile(p: &MapReader<'_, '_>, sink: &mut Sink) -> Profile {
    p.check_keys(PROFILE_KEYS, sink);
    Profile {
        cli: cli_name(p, "cli", sink),
        model: p.string("model", sink).map(str::to_owned),
        effort: p.keyword("effort", Effort::ALL, Effort::parse, sink),
        permissions: p.keyword("permissions", Permissions::ALL, Permissions::parse, sink),
        system_prompt: p.string("system_prompt", sink).map(str::to_owned),
        extends: p.string("extends", sink).map(str::to_owned),
        default_mode: compat::config::mode(p, sink),
        launcher: launcher::read(p, sink, &mut launcher::plain_word),
        limits: read_limits(p, sink),
        deny: crate::workflow::retry::read_deny(p, sink),
    }
}

fn cli_name(r: &MapReader<'_, '_>, key: &str, sink: &mut Sink) -> Option<String> {
    let cli = r.string(key, sink)?;
    let cli = compat::workflow::cli_alias(cli);
    if CLI_NAMES.contains(&cli) {
        return Some(cli.to_owned());
    }
    let hint = crate::compat::workflow::cli_hint(cli);
    sink.error(
        "config",
        format!(
            "unknown cli \"{cli}\"{hint}; available: {}",
            CLI_NAMES.join(", ")
        ),
        r.path_of(key),
        Target::Value,
    );
    None
}

fn string_list(r: &MapReader<'_, '_>, key: &str, sink: &mut Sink) -> Option<Vec<String>> {
    let items = r.list(key, sink)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.scalar_text() {
            Some(text) => out.push(text),
            None => sink.wrong_type(
                &format!("{key}[{i}]"),
                A_STRING,
                item,
                r.path_of(key).index(i),
            ),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_extend_and_cycles_are_errors() {
        let (config, diagnostics) = load_bytes(
            b"profiles:\n  base: {cli: codex, model: m1}\n  lead: {extends: base, model: m2}\n",
            "config.yaml",
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let lead = config.profile("lead").unwrap();
        assert_eq!(lead.cli.as_deref(), Some("codex"));
        assert_eq!(lead.model.as_deref(), Some("m2"));
        let (_, diagnostics) = load_bytes(
            b"profiles:\n  a: {extends: b}\n  b: {extends: a}\n",
            "config.yaml",
        );
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].to_string(),
            "config.yaml:2:3: error[config]: top level: profile cycle: a -> b -> a"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values() {
        let (_, diagnostics) = load_bytes(
            b"default_cli: clade\nshel: /bin/bash\ninteractive: {stop_grace: soon}\n",
            "c.yaml",
        );
        let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "c.yaml:2:1: error[config]: top level: unknown key \"shel\" (did you mean \"shell\"?)",
                "c.yaml:1:14: error[config]: top level: unknown cli \"clade\" (did you mean \"claude\"?); available: claude, codex, copilot, cursor-agent, opencode, gemini",
                "c.yaml:3:27: error[config]: top level: invalid stop_grace: \"soon\" is not a duration\n  help: write \"30s\" or \"5m\"",
            ]
        );
    }
}
