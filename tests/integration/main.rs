//! The one integration-test binary: every module drives the real `agent-runner` (or, for the
//! relay, the `relay-host` helper) through real processes and real pseudo-terminals.

// Helpers outside `#[test]` functions are test code too; clippy's in-test allowance misses them.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed setup step should stop the test"
)]

#[allow(
    dead_code,
    reason = "the builder offers more than the current tests use (fake CLIs, stdin, env)"
)]
mod test;

mod agent_config;
mod agent_contract;
mod agent_faults;
mod agent_headless;
mod agent_outputs;
mod agent_sessions;
mod builtin_flokay;
mod builtin_parallel;
mod builtin_plans;
mod builtin_runs;
mod builtin_support;
mod cli_regressions;
mod docs;
mod docs_commands;
mod dry_run_parallel;
mod engines;
mod error_classes;
mod examples;
mod fixtures;
mod go_projects;
mod go_spellings;
mod helpers;
mod interactive_exit;
mod interactive_harness;
mod interactive_sessions;
mod interactive_terminal;
mod interactive_triggers;
mod k8s;
mod launchers;
mod launchers_interactive;
mod process_lifetime;
mod pty_relay;
mod reports;
mod run_budgets;
mod run_compat;
mod run_conditions;
mod run_container_timeouts;
mod run_crash;
mod run_flow;
mod run_loops;
mod run_messages;
mod run_outputs;
mod run_parallel;
mod run_parallel_resume;
mod run_parallel_status;
mod run_params;
mod run_resume;
mod run_retry;
mod run_shell;
mod run_signals;
mod run_simulate;
mod run_soak;
mod run_start;
mod run_state;
mod run_subworkflows;
mod run_support;
mod run_timeouts;
mod secrets;
mod sshd;
mod ui_support;
mod ui_view;
mod validate;
mod validate_bounds;
mod validate_conditions;
mod validate_messages;
mod workflows;
mod worktrees;
