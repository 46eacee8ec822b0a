//! What a step produced: outcomes, failures and their error classes (runs-and-state.md §7).

use std::fmt;

pub use crate::error::ErrorClass;

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    /// The reason as printed after `failed: ` (e.g. `exit status 101`).
    pub message: String,
    /// Set when the failure happened in a step below this one; the run reports the deepest path.
    pub path: Option<String>,
    /// Display path of the step that failed first, for the final console line.
    pub display: Option<String>,
    /// When a `quota` resets, if the CLI said so.
    pub reset_at: Option<std::time::SystemTime>,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            message: message.into(),
            path: None,
            display: None,
            reset_at: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An adapter's classified failure as a step failure.
impl From<crate::agents::Failure> for Failure {
    fn from(failure: crate::agents::Failure) -> Self {
        Failure {
            reset_at: failure.reset_at,
            ..Failure::new(failure.class, failure.message)
        }
    }
}

/// How a step (or a whole step list) ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    Success,
    Failed(Failure),
    /// The run is being interrupted; nothing else starts.
    Interrupted,
    /// A `break_if` matched below; the nearest enclosing loop of the same file ends successfully.
    Break,
}
