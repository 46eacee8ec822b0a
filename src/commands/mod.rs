//! Commands that work on workflow files without running them: `--validate`, `workflows`,
//! `schema`. Each returns its exit code.

pub mod schema;
pub mod validate;
pub mod workflows;
