//! Agent adapters: one driver per agent CLI (agents.md).
//!
//! An [`Adapter`] knows one CLI: its command lines for every mode and session strategy
//! ([`Adapter::build`], a pure function), how to read its headless stream ([`Adapter::parser`]),
//! where it keeps sessions, and how to check its login. The executors own processes and the
//! console; they call into this module for everything CLI-specific and share [`render`] for the
//! console and the `.txt` output file. The [`framing`] and [`env`] modules hold the rules every
//! CLI shares: prompt wording, the large-prompt rule and environment hygiene.

pub mod binary;
pub mod classify;
pub mod claude;
mod claude_failure;
mod claude_usage;
pub mod codex;
mod codex_usage;
pub mod copilot;
pub mod cursor;
pub mod env;
pub mod event;
pub mod fixture;
pub mod framing;
pub mod gemini;
pub mod ids;
pub mod invocation;
mod json;
pub mod opencode;
pub mod render;
pub mod summary;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use binary::{binary_env_var, find_on_path, resolve_binary};
pub use env::{EnvLayers, child_env};
pub use event::{
    AgentEvent, Completion, ErrorClass, ExitInfo, Failure, MAX_LINE_BYTES, ModelUsage,
    RunningUsage, StreamParser, Usage,
};
pub use ids::new_session_id;
pub use invocation::{
    BuildError, Capabilities, CommandSpec, HostFacts, Invocation, SchemaArg, SessionRequest, Stdin,
};

/// Looks up an environment variable (`process_env` outside tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real environment, for [`EnvLookup`] parameters.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What the executor knows when it looks for an interactive session id it could not choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryContext {
    /// The step's workdir (real path), as the CLI records it.
    pub workdir: PathBuf,
    /// When the child was spawned.
    pub spawned_at: SystemTime,
    /// Now (the dirs of today and yesterday, UTC, are searched).
    pub now: SystemTime,
}

/// The result of one discovery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Discovery {
    /// The session id, once found.
    pub session_id: Option<String>,
    /// Set when several sessions matched (the earliest was taken).
    pub warning: Option<String>,
}

/// A CLI's names and the hints shown when it is missing or logged out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub name: &'static str,
    /// The executable name looked up on PATH by default.
    pub binary: &'static str,
    pub install_hint: &'static str,
    pub login_hint: &'static str,
}

/// The driver for one agent CLI.
pub trait Adapter: Sync + Send {
    /// Names and hints.
    fn identity(&self) -> &'static Identity;

    /// `claude`, `codex`, `copilot`, `cursor-agent`, `opencode` or `gemini`.
    fn name(&self) -> &'static str {
        self.identity().name
    }

    /// The executable name looked up on PATH when nothing else is configured.
    fn default_binary(&self) -> &'static str {
        self.identity().binary
    }

    /// How to install the CLI (`npm install -g ...`).
    fn install_hint(&self) -> &'static str {
        self.identity().install_hint
    }

    /// How to log in (`run "codex login"`).
    fn login_hint(&self) -> &'static str {
        self.identity().login_hint
    }

    fn capabilities(&self) -> Capabilities;

    /// The command line for `inv`. Pure: the same invocation always gives the same command.
    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError>;

    /// A parser for the headless stream of the invocation `inv` (it knows the expected session
    /// id and the workdir for its messages).
    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser>;

    /// Whether the CLI's session store has `id` for `workdir`; `None` when it cannot be checked.
    fn session_exists(&self, _id: &str, _workdir: &Path, _env: EnvLookup) -> Option<bool> {
        None
    }

    /// One attempt to find the id of an interactive session started at `ctx.spawned_at`. `None`
    /// when the CLI's session ids are chosen in advance (or cannot be discovered). The executor
    /// calls it about once a second until it returns an id or the child exits.
    fn discover_session(&self, _ctx: &DiscoveryContext, _env: EnvLookup) -> Option<Discovery> {
        None
    }

    /// The arguments of a quick, offline login check (run as `<binary> <args>` with stdin
    /// `/dev/null`; exit 0 means logged in), or `None` when there is no such check or it is not
    /// needed.
    fn preflight_args(&self, _env: EnvLookup) -> Option<Vec<String>> {
        None
    }

    /// The `cli_missing` failure for a spawn that failed with ENOENT.
    fn not_installed(&self) -> Failure {
        Failure::new(
            ErrorClass::CliMissing,
            format!(
                "the \"{cli}\" CLI is not installed or not on PATH; {hint}, or set clis.{cli}.binary",
                cli = self.name(),
                hint = self.install_hint()
            ),
        )
    }

    /// The `cli_auth` failure.
    fn not_logged_in(&self) -> Failure {
        Failure::new(
            ErrorClass::CliAuth,
            format!("{} is not logged in; {}", self.name(), self.login_hint()),
        )
    }
}

/// Every adapter, in the order the spec lists them.
static ADAPTERS: &[&dyn Adapter] = &[
    &claude::Claude,
    &codex::Codex,
    &copilot::Copilot,
    &cursor::Cursor,
    &opencode::Opencode,
    &gemini::Gemini,
];

/// The adapter called `name`.
pub fn adapter(name: &str) -> Option<&'static dyn Adapter> {
    ADAPTERS.iter().copied().find(|a| a.name() == name)
}

/// All adapters.
pub fn adapters() -> &'static [&'static dyn Adapter] {
    ADAPTERS
}

/// The home directory from `HOME`.
pub(crate) fn home(env: EnvLookup) -> Option<PathBuf> {
    env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}
