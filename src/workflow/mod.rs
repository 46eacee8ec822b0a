//! Workflows: the step-tree model, and (in later modules) loading, validation and name resolution.

pub mod diagnostic;
pub mod model;

pub use diagnostic::{Diagnostic, Severity};
pub use model::*;
