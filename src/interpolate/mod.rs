//! Template interpolation: load-time analysis and run-time rendering of `{{var}}` templates.
//!
//! Workflow templates are Handlebars with strict mode on and HTML escaping off, restricted to
//! `{{name}}`, `{{raw name}}`, `{{#if}}`/`{{#unless}}`/`{{else}}` and `\{{` (workflow-format.md
//! §8). The loader analyses every template field through [`Compiled`] to learn which variables a
//! field uses and to report misuse, and the model keeps the result; the executors render it with
//! a [`Lookup`] of the variables in scope ([`render`] does both at once, for text outside a model).
//! In shell contexts (`command`, `skip_if: sh:`) every value is quoted for the place where it
//! stands, so captured output can never run as shell code; [`export_env`] gives shell steps the
//! same values as `AR_*` environment variables.
//!
//! The pipeline: `lex` (mustache tags) → `analyze` (checks) → `compiled` (the analysis kept in
//! the model) → `shell` (quote positions) → `render` (rewrite into helper calls, parsed once) →
//! `registry` (Handlebars and the helpers) → `quote`.

mod analyze;
mod compiled;
mod env;
mod lex;
mod quote;
mod registry;
mod render;
mod shell;
mod shell_words;
mod vars;

#[cfg(test)]
mod injection_tests;

pub use analyze::{Analysis, TemplateIssue, VarUse, analyze};
pub use compiled::{Compiled, Lookup, VarRef};
pub use env::{MAX_ENV_VALUE, export_env, is_identifier};
pub use quote::shell_quote;
pub use registry::base_registry;
pub use render::{RenderError, render};
pub use vars::{VarValue, Vars};
