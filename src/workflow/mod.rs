//! Workflows: the step-tree model, loading with strict validation, name resolution and
//! composition.
//!
//! Pipeline: [`yaml`] (the only module that sees serde_yaml; libyaml events on its fast path) →
//! [`loader`] with [`steps`] and [`validate`] (analysis into the [`model`], with [`Diagnostic`]s positioned by [`positions`]) →
//! [`resolve`] (names to sources) → [`compose`] (every statically reachable sub-workflow).

pub mod budget;
pub mod builtin;
pub mod compose;
pub mod condition;
mod condition_check;
mod condition_worker;
pub mod diagnostic;
pub mod duration;
pub mod engine_file;
pub mod fields;
pub mod launcher;
mod libyaml;
pub mod loader;
pub mod model;
mod names;
pub mod output;
mod parallel;
pub mod positions;
mod repeated_keys;
pub mod requires;
pub mod resolve;
pub mod retry;
pub mod schema;
pub mod steps;
pub mod suggest;
pub mod template;
mod validate;
pub mod yaml;
mod yaml_limits;

pub use condition_worker::retire as retire_condition_worker;
pub use diagnostic::{Diagnostic, Severity};
pub use model::*;
