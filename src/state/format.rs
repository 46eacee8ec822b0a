//! Which `format_version` a state document needs (control.md §11 "Audit and state"): 1 unless
//! it uses a second-release field, then 2, so that a first-release binary refuses it with its
//! "newer agent-runner" message instead of dropping what it does not know.

use serde::{Deserialize, Serialize};

use super::document::StateDoc;

/// The first release's format.
pub const FIRST_RELEASE: u64 = 1;
/// The format of documents that use a second-release field.
pub const SECOND_RELEASE: u64 = 2;

/// The run budget in force (control.md §5): from `--max-cost` / `--max-tokens`, the workflow,
/// the project and user configuration; `--resume --max-cost` raises it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetInForce {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<f64>,
}

impl StateDoc {
    /// Whether the document uses any second-release field. Every field of the second release
    /// joins this list.
    pub fn uses_second_release(&self) -> bool {
        self.budget.is_some()
    }

    /// Sets `format_version` to what the document needs. Called before every write.
    pub fn stamp_format(&mut self) {
        self.format_version = if self.uses_second_release() {
            SECOND_RELEASE
        } else {
            FIRST_RELEASE
        };
    }
}
