//! What each agent session has reported in this run, by model (control.md §5 "Correct totals").
//! claude's result totals of a resumed session continue from what its earlier invocations
//! reported, so the adapter takes those off (`agents::claude_usage::since`) to get the step's own
//! figures. Filled as headless steps end, and on a resume from the `step_end` records of the
//! audit log (each holds its step's own figures and its session id).

use std::collections::HashMap;
use std::path::Path;

use crate::agents::event::{ModelUsage, SessionSpend, Usage};
use crate::state::{AuditData, read_audit};

/// Session id → what its invocations reported in this run.
#[derive(Debug, Default)]
pub struct SessionSpends(HashMap<String, SessionSpend>);

impl SessionSpends {
    /// What the agent steps of the run recorded in `audit` reported, by session.
    pub fn in_audit(audit: &Path) -> Self {
        let mut spends = SessionSpends::default();
        for line in read_audit(audit).unwrap_or_default() {
            let Some(AuditData::StepEnd(end)) = line.record.as_ref().map(|r| r.typed()) else {
                continue;
            };
            let (Some(Some(id)), Some(usage)) = (&end.session_id, &end.usage) else {
                continue;
            };
            let models: Vec<ModelUsage> = usage
                .models
                .iter()
                .flatten()
                .map(|(model, m)| ModelUsage {
                    model: model.clone(),
                    usage: Usage {
                        input_tokens: m.input_tokens,
                        cached_input_tokens: m.cached_input_tokens,
                        cache_creation_tokens: m.cache_creation_tokens,
                        output_tokens: m.output_tokens,
                        reasoning_tokens: m.reasoning_tokens,
                    },
                    cost_usd: m.cost_usd,
                })
                .collect();
            spends.add(id, &models, end.cost_usd.flatten());
        }
        spends
    }

    /// Session `id` reported `models` and `cost_usd` for one invocation.
    pub fn add(&mut self, id: &str, models: &[ModelUsage], cost_usd: Option<f64>) {
        if models.is_empty() && cost_usd.is_none() {
            return;
        }
        self.0
            .entry(id.to_owned())
            .or_default()
            .add(models, cost_usd);
    }

    /// What session `id` reported before, if anything.
    pub fn before(&self, id: &str) -> Option<SessionSpend> {
        self.0.get(id).cloned()
    }
}
