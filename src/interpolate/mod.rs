//! Template interpolation: load-time analysis and run-time rendering of `{{var}}` templates.
//!
//! Workflow templates are Handlebars with strict mode on and HTML escaping off, restricted to
//! `{{name}}`, `{{raw name}}`, `{{#if}}`/`{{#unless}}`/`{{else}}` and `\{{` (workflow-format.md
//! §8). The loader calls [`analyze`] on every template field to learn which variables a field
//! uses and to report misuse; the executors call [`render`] with the variables in scope. In shell
//! contexts (`command`, `skip_if: sh:`) every value is quoted for the place where it stands, so
//! captured output can never run as shell code; [`export_env`] gives shell steps the same values
//! as `AR_*` environment variables.
//!
//! The pipeline: `lex` (mustache tags) → `analyze` (checks) → `shell` (quote positions) →
//! `render` (rewrite into helper calls) → `registry` (Handlebars and the helpers) → `quote`.

mod analyze;
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
pub use env::{MAX_ENV_VALUE, export_env};
pub use quote::shell_quote;
pub use registry::base_registry;
pub use render::{RenderError, render};
pub use vars::{VarValue, Vars};
