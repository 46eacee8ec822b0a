//! Compatibility with projects written for the Go agent-runner (compat-go.md).
//!
//! Go-era handling lives here so the native modules stay about the native format: the profiles
//! the Go tool creates implicitly ([`profiles`]), the Go shapes of `config.yaml` ([`config`]),
//! the Go spellings of workflow files, which are rewritten into the native ones before analysis,
//! together with each step's mode as the Go tool resolved it ([`workflow`], [`modes`]), the
//! refusal of later Go features ([`features`]), Go built-in workflow names ([`names`]), and
//! `agent-runner migrate` ([`migrate`], [`rewrite`]).

pub mod config;
pub mod features;
pub mod migrate;
pub mod modes;
pub mod names;
pub mod profiles;
pub mod rewrite;
pub mod workflow;

/// The warning printed once per run (and once per configuration file by `--validate`) while a
/// configuration file sets `default_mode`.
pub const DEPRECATED_DEFAULT_MODE: &str =
    "default_mode is deprecated; set mode: on the steps (agent-runner migrate does it)";

/// Where every Go-only construct is explained.
pub const MIGRATING_DOC: &str = "docs/migrating.md";
