//! Engines: declarative YAML files that connect a workflow to an outside tool (engines.md).
//!
//! # Theory of operation
//!
//! An engine file is data, never Rust. [`find`] locates it (project, user dir, built-in) and
//! checks it fully ([`file`] with [`templates`]; `--validate` runs the same checks through
//! [`workflow::engine_file`](crate::workflow::engine_file)), giving an [`EngineSpec`].
//! [`Engine::attach`] binds the spec to a scope: options, `vars`, `checks`. The runtime then
//! calls the hooks at their moments — [`Engine::validate_workflow`] when the scope starts,
//! [`Engine::enrich_prompt`] before each agent step, [`Engine::validate_step`] after each
//! successful one, [`Engine::state_dir`] once at run start — and acts on the [`HookOutcome`].
//! Every hook that exists returns a [`HookRecord`] for the `engine` audit event; engines never
//! write state or print anything themselves.
//!
//! A hook runs its `needs` (data commands, cached per instance once successful), decides with
//! `when`, runs its own command ([`command`]: no shell, project dir, stdin null, cleaned
//! environment, 60 s limit, own process group), renders `let` and its result template with the
//! [`helpers`]. Nothing a hook does can abort the run: failures become outcomes.

pub mod command;
pub mod context;
pub mod error;
pub mod file;
pub mod find;
pub mod helpers;
pub mod instance;
pub mod spec;
pub mod templates;

#[cfg(test)]
mod tests;

pub use context::{EngineContext, HOOK_TIMEOUT, StepInfo, WorkflowInfo, workflow_info};
pub use error::EngineError;
pub use find::{available, find};
pub use instance::{Engine, HookOutcome, HookRecord, HookResult};
pub use spec::{EngineSpec, HookKind};
