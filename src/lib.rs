//! agent-runner: runs YAML workflows of AI coding-agent steps.
//!
//! Data flows one way: YAML → [`workflow`] model → runtime → executors → events → one writer → state,
//! audit and console. `main.rs` only calls [`run::run`] and exits with the code it returns.

pub mod agents;
pub mod allocator;
pub mod capped;
pub mod cli;
pub mod commands;
pub mod compat;
pub mod config;
pub mod console;
pub mod engine;
pub mod error;
pub mod exec;
pub mod exit;
pub mod interpolate;
pub mod k8s;
pub mod pty;
pub mod report;
pub mod run;
pub mod state;
pub mod ui;
pub mod ui_launch;
pub mod workflow;
pub mod worktree;

#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;
