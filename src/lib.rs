//! agent-runner: runs YAML workflows of AI coding-agent steps.
//!
//! Data flows one way: YAML → [`workflow`] model → dispatcher → executors → events → state and
//! audit. `main.rs` only parses arguments and maps the result of [`run`] to an exit code.

pub mod exit;
pub mod pty;
pub mod workflow;
