//! What each agent session has reported in this run, by model (control.md §5 "Correct totals").
//! claude's result totals of a resumed session continue from what its earlier invocations
//! reported, so the adapter takes those off (`agents::claude_usage::since`) to get the step's own
//! figures. Filled as headless steps end, and on a resume from the `step_end` records of the
//! audit log (each holds its step's own figures and its session id), read when first needed: a
//! resumed run with no agent step never reads its log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::agents::event::{ModelUsage, SessionSpend, Usage};
use crate::state::{AuditData, spending_step_ends};

/// Session id → what its invocations reported in this run.
#[derive(Debug, Default)]
pub struct SessionSpends {
    known: HashMap<String, SessionSpend>,
    /// The audit log of the run before this invocation (its path and length then), not read
    /// yet.
    unread: Option<(PathBuf, u64)>,
}

impl SessionSpends {
    /// What the agent steps of the run recorded in its first `length` bytes of `audit` (the
    /// log before this invocation appended to it) reported, by session; read on first use.
    pub fn in_audit(audit: &Path, length: u64) -> Self {
        SessionSpends {
            known: HashMap::new(),
            unread: Some((audit.to_path_buf(), length)),
        }
    }

    /// The sessions' spending, with the log's read in first if it was not yet.
    fn known(&mut self) -> &mut HashMap<String, SessionSpend> {
        if let Some((audit, length)) = self.unread.take() {
            for record in spending_step_ends(&audit, Some(length)) {
                self.add_recorded(&record);
            }
        }
        &mut self.known
    }

    /// One `step_end` of the log, if it reports a session's usage.
    fn add_recorded(&mut self, record: &crate::state::AuditRecord) {
        let AuditData::StepEnd(end) = record.typed() else {
            return;
        };
        let (Some(Some(id)), Some(usage)) = (&end.session_id, &end.usage) else {
            return;
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
        self.add(id, &models, end.cost_usd.flatten());
    }

    /// Session `id` reported `models` and `cost_usd` for one invocation.
    pub fn add(&mut self, id: &str, models: &[ModelUsage], cost_usd: Option<f64>) {
        if models.is_empty() && cost_usd.is_none() {
            return;
        }
        self.known()
            .entry(id.to_owned())
            .or_default()
            .add(models, cost_usd);
    }

    /// What session `id` reported before, if anything.
    pub fn before(&mut self, id: &str) -> Option<SessionSpend> {
        self.known().get(id).cloned()
    }
}
