//! Template interpolation: load-time analysis and run-time rendering of `{{var}}` templates.
//!
//! Workflow templates are Handlebars with strict mode on and HTML escaping off, restricted to
//! `{{name}}`, `{{raw name}}`, `{{#if}}`/`{{#unless}}`/`{{else}}` and `\{{` (workflow-format.md
//! §8). The loader calls [`analyze`] on every template field to learn which variables a field
//! uses and to report misuse; the executors call `render` with the variables in scope. In shell
//! contexts (`command`, `skip_if: sh:`) every value is quoted for the place where it stands, so
//! captured output can never run as shell code.

mod analyze;
mod lex;
mod shell;

pub use analyze::{Analysis, TemplateIssue, VarUse, analyze};
