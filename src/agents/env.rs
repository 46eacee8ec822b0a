//! Environment hygiene for agent processes (agents.md §9).
//!
//! A runner started from inside an agent session inherits that agent's markers (`CLAUDECODE`, a
//! Codex sandbox flag, ...). Passed on, they would make the child believe it is nested, so they are
//! removed. The variables the runner adds come in layers; [`child_env`] applies both rules and
//! returns the complete environment to spawn with (`env_clear` + `envs`).

use super::invocation::CommandSpec;

/// Exact names removed from every agent process.
pub const REMOVED_VARS: &[&str] = &[
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_CODE_CHILD_SESSION",
    "CLAUDE_CODE_SSE_PORT",
    "CODEX_SANDBOX",
    "CODEX_SANDBOX_NETWORK_DISABLED",
];

/// Name prefixes removed from every agent process.
pub const REMOVED_PREFIXES: &[&str] = &["AR_"];

/// True when `name` must not reach an agent process.
pub fn is_removed(name: &str) -> bool {
    REMOVED_VARS.contains(&name) || REMOVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The variables the runner adds, one field per layer, lowest precedence first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvLayers {
    /// The workflow's `env:`.
    pub workflow: Vec<(String, String)>,
    /// `clis.<cli>.env`.
    pub cli: Vec<(String, String)>,
    /// The step's `env:`.
    pub step: Vec<(String, String)>,
    /// `AGENT_RUNNER_RUN_ID`, `AGENT_RUNNER_RUN_DIR`, `AGENT_RUNNER_STEP`, and for interactive
    /// steps the control variables (`AGENT_RUNNER_TTY`, `AGENT_RUNNER_CONTROL`,
    /// `AGENT_RUNNER_CONTROL_TOKEN`).
    pub runner: Vec<(String, String)>,
    /// Interactive steps: set `TERM=xterm-256color` when `TERM` is unset.
    pub default_term: bool,
}

/// The complete environment of an agent child: the parent's, cleaned, then the adapter's
/// additions, then the layers (later wins). Order of the result: parent order, new names appended.
pub fn child_env<I>(parent: I, spec: &CommandSpec, layers: &EnvLayers) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut env: Vec<(String, String)> = parent
        .into_iter()
        .filter(|(k, _)| !is_removed(k) && !spec.env_remove.iter().any(|r| r == k))
        .collect();
    let layered = spec
        .env_add
        .iter()
        .chain(&layers.workflow)
        .chain(&layers.cli)
        .chain(&layers.step)
        .chain(&layers.runner);
    for (k, v) in layered {
        set(&mut env, k, v);
    }
    if layers.default_term && !env.iter().any(|(k, _)| k == "TERM") {
        set(&mut env, "TERM", "xterm-256color");
    }
    env
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::invocation::Stdin;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn removes_markers_and_applies_layers_in_order() {
        let spec = CommandSpec {
            program: "claude".into(),
            args: vec![],
            env_add: vec![],
            env_remove: REMOVED_VARS.iter().map(|s| s.to_string()).collect(),
            stdin: Stdin::Null,
        };
        let parent = pairs(&[
            ("PATH", "/bin"),
            ("CLAUDECODE", "1"),
            ("AR_SECRET", "x"),
            ("CODEX_SANDBOX", "seatbelt"),
            ("X", "parent"),
        ]);
        let layers = EnvLayers {
            workflow: pairs(&[("X", "workflow"), ("Y", "workflow")]),
            cli: pairs(&[("Y", "cli"), ("Z", "cli")]),
            step: pairs(&[("Z", "step"), ("AGENT_RUNNER_STEP", "fake")]),
            runner: pairs(&[("AGENT_RUNNER_STEP", "real")]),
            default_term: true,
        };
        let env = child_env(parent, &spec, &layers);
        assert_eq!(
            env,
            pairs(&[
                ("PATH", "/bin"),
                ("X", "workflow"),
                ("Y", "cli"),
                ("Z", "step"),
                ("AGENT_RUNNER_STEP", "real"),
                ("TERM", "xterm-256color"),
            ])
        );
    }

    #[test]
    fn keeps_an_existing_term() {
        let spec = CommandSpec {
            program: "codex".into(),
            args: vec![],
            env_add: vec![],
            env_remove: vec![],
            stdin: Stdin::Pty,
        };
        let layers = EnvLayers {
            default_term: true,
            ..EnvLayers::default()
        };
        let env = child_env(pairs(&[("TERM", "screen")]), &spec, &layers);
        assert_eq!(env, pairs(&[("TERM", "screen")]));
    }
}
