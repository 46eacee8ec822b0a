//! The input and output of [`Adapter::build`](super::Adapter::build): what the runner wants to run,
//! and the exact process to spawn for it.
//!
//! `build` is pure: everything it needs from the outside world (the resolved binary, whether the
//! runner is root) is a field of [`Invocation`], so argv can be tested with plain snapshots.

use std::path::PathBuf;

use crate::workflow::model::{AgentMode, Effort, Permissions};

use super::event::{ErrorClass, Failure};

/// One agent invocation, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The executable to run (from [`resolve_binary`](super::resolve_binary)).
    pub binary: String,
    pub mode: AgentMode,
    pub session: SessionRequest,
    /// The positional prompt (already shortened by the large-prompt rule if needed).
    pub prompt: String,
    /// The framing plus the profile's system prompt (agents.md §7).
    pub system_text: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    pub permissions: Permissions,
    /// The step's working directory (real path).
    pub workdir: PathBuf,
    /// The run directory, granted to the agent with `--add-dir` where the CLI has it.
    pub run_dir: PathBuf,
    /// `clis.<cli>.extra_args`, placed after the generated flags and before `--`.
    pub extra_args: Vec<String>,
    /// Absolute path of the running agent-runner (for claude's `--allowedTools`).
    pub runner_exe: PathBuf,
    pub host: HostFacts,
    /// What a headless step may still spend in US dollars (control.md §5), for CLIs with a
    /// budget flag of their own (claude `--max-budget-usd`).
    pub max_budget_usd: Option<f64>,
    /// What the resumed session's earlier invocations reported in this run (claude's result
    /// totals continue from them); `None` for a new session or one this run has no figures of.
    pub session_before: Option<super::event::SessionSpend>,
    /// The JSON Schema the final answer must match, for a CLI with a native option
    /// ([`Capabilities::output_schema`]); `None` otherwise.
    pub output_schema: Option<SchemaArg>,
}

/// A step's output schema as the CLIs take it: the compact JSON text (claude's
/// `--json-schema`) and a file holding it (codex's `--output-schema`), which the runner writes to
/// the run's output dir before the CLI starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaArg {
    pub json: String,
    pub file: PathBuf,
}

/// Facts about the runner's own process that change argv or refuse a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// The effective uid is 0.
    pub root: bool,
    /// `IS_SANDBOX` is set in the environment.
    pub is_sandbox: bool,
}

impl HostFacts {
    /// Reads the facts from this process.
    pub fn detect() -> Self {
        HostFacts {
            root: nix::unistd::geteuid().is_root(),
            is_sandbox: std::env::var_os("IS_SANDBOX").is_some(),
        }
    }
}

/// Start a new conversation or continue one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRequest {
    /// A new session. `preassigned` is the id the runner chose (a UUIDv4 from
    /// [`new_session_id`](super::new_session_id)) for CLIs that accept one.
    New { preassigned: Option<String> },
    /// Continue the session with this id.
    Resume { id: String },
}

/// What the child's stdin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null` (headless).
    Null,
    /// The slave side of the relay's pseudo-terminal (interactive).
    Pty,
}

/// The process to spawn. The cwd is always the invocation's workdir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    /// Variables the adapter itself adds (the runner's layers come on top, see `env`).
    pub env_add: Vec<(String, String)>,
    /// Exact names to remove (prefixes such as `AR_*` are handled by [`child_env`](super::child_env)).
    pub env_remove: Vec<String>,
    pub stdin: Stdin,
}

impl CommandSpec {
    /// The program and its arguments, as one argv.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

/// Why `build` refused to produce a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The step cannot run with these settings (class `cli_error`).
    #[error("{0}")]
    Refused(String),
    /// The CLI has no way to do this (validation should have caught it).
    #[error("{cli} does not support {what}")]
    Unsupported {
        cli: &'static str,
        what: &'static str,
    },
}

impl BuildError {
    /// The step failure this error becomes.
    pub fn to_failure(&self) -> Failure {
        Failure::new(ErrorClass::CliError, self.to_string())
    }
}

/// What a CLI can do; the validator and the executor consult it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub headless: bool,
    pub interactive: bool,
    pub resume_headless: bool,
    pub resume_interactive: bool,
    /// The runner can choose a new session's id (`--session-id`).
    pub preassigned_session_id: bool,
    /// The CLI has a flag for system text (otherwise it is folded into the prompt).
    pub system_prompt_flag: bool,
    /// The CLI takes a JSON Schema for its final answer in headless mode (control.md §7).
    pub output_schema: bool,
    pub effort: bool,
    pub usage: bool,
    pub cost: bool,
}

impl Invocation {
    pub(crate) fn headless(&self) -> bool {
        self.mode == AgentMode::Headless
    }

    pub(crate) fn stdin(&self) -> Stdin {
        if self.headless() {
            Stdin::Null
        } else {
            Stdin::Pty
        }
    }

    pub(crate) fn resume_id(&self) -> Option<&str> {
        match &self.session {
            SessionRequest::Resume { id } => Some(id),
            SessionRequest::New { .. } => None,
        }
    }

    pub(crate) fn preassigned_id(&self) -> Option<&str> {
        match &self.session {
            SessionRequest::New { preassigned } => preassigned.as_deref(),
            SessionRequest::Resume { .. } => None,
        }
    }

    /// The run dir as an argument.
    pub(crate) fn run_dir_arg(&self) -> String {
        self.run_dir.display().to_string()
    }

    /// A command with this invocation's program, stdin and the common env removals.
    pub(crate) fn command(&self, args: Vec<String>) -> CommandSpec {
        CommandSpec {
            program: self.binary.clone(),
            args,
            env_add: Vec::new(),
            env_remove: super::env::REMOVED_VARS
                .iter()
                .map(|v| v.to_string())
                .collect(),
            stdin: self.stdin(),
        }
    }
}

/// Builds argv from string-ish pieces.
#[derive(Debug, Default)]
pub(crate) struct Argv(pub Vec<String>);

impl Argv {
    pub fn arg(&mut self, a: impl Into<String>) -> &mut Self {
        self.0.push(a.into());
        self
    }

    pub fn args<I, S>(&mut self, items: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0.extend(items.into_iter().map(Into::into));
        self
    }

    /// `flag value` when the value is present.
    pub fn opt(&mut self, flag: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.arg(flag).arg(v);
        }
        self
    }
}
