//! The run budget in force as state.json keeps it (control.md §5): a second-release field, so
//! a document that has it is written with `format_version` 2
//! ([`StateDoc::uses_second_release_fields`](super::StateDoc::uses_second_release_fields)).

use serde::{Deserialize, Serialize};

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
