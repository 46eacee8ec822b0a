//! Claude's usage figures (control.md §5 "Correct totals"). Checked against the Claude Agent SDK
//! 0.3.336 types (claude 2.1.197): `result.modelUsage` holds per-model totals of every model call
//! of the invocation — main loop, Task sub-agents, compaction — with `costUSD`, and
//! `thinkingTokens` already counted inside `outputTokens`; `result.usage` covers the main loop
//! only, so it is the fallback when `modelUsage` is missing. While the step runs, each assistant
//! message (sub-agents' included) carries `message.usage`, repeated on every content block of
//! the same `message.id`: the running figure is the sum over message ids of the latest usage.

use std::collections::HashMap;

use serde::Deserialize;

use super::event::{ModelUsage, RunningUsage, Usage};
use super::json::count;

/// `message.usage` of an assistant line, and the per-model entries of `modelUsage`.
#[derive(Deserialize, Default, Clone, Copy)]
pub(crate) struct MessageUsage {
    #[serde(default, deserialize_with = "count")]
    input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    cache_read_input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    output_tokens: u64,
}

impl MessageUsage {
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            cached_input_tokens: self.cache_read_input_tokens,
            cache_creation_tokens: self.cache_creation_input_tokens,
            output_tokens: self.output_tokens,
            reasoning_tokens: 0,
        }
    }
}

/// One entry of `result.modelUsage`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModelEntry {
    #[serde(default, deserialize_with = "count")]
    input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    output_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    cache_read_input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    thinking_tokens: u64,
    #[serde(default, rename = "costUSD")]
    cost_usd: Option<f64>,
}

/// The per-model split of `modelUsage`, in the order of model names.
pub(crate) fn models(entries: HashMap<String, ModelEntry>) -> Vec<ModelUsage> {
    let mut models: Vec<ModelUsage> = entries
        .into_iter()
        .map(|(model, e)| ModelUsage {
            model,
            usage: Usage {
                input_tokens: e.input_tokens,
                cached_input_tokens: e.cache_read_input_tokens,
                cache_creation_tokens: e.cache_creation_input_tokens,
                output_tokens: e.output_tokens,
                reasoning_tokens: e.thinking_tokens,
            },
            cost_usd: e.cost_usd,
        })
        .collect();
    models.sort_by(|a, b| a.model.cmp(&b.model));
    models
}

/// The step's totals from the split: every model's tokens added up.
pub(crate) fn total(models: &[ModelUsage]) -> Usage {
    models.iter().fold(Usage::default(), |mut acc, m| {
        acc.add(&m.usage);
        acc
    })
}

/// The running figure while the step runs.
#[derive(Default)]
pub(crate) struct Running {
    by_message: HashMap<String, u64>,
    tokens: u64,
    /// Set by the result: the final figures.
    done: Option<RunningUsage>,
}

impl Running {
    /// An assistant message `id` reported `usage` (each block repeats it; the latest wins).
    pub(crate) fn message(&mut self, id: &str, usage: &MessageUsage) {
        let u = usage.usage();
        let tokens =
            u.input_tokens + u.cached_input_tokens + u.cache_creation_tokens + u.output_tokens;
        let before = self.by_message.insert(id.to_owned(), tokens).unwrap_or(0);
        self.tokens = self.tokens - before + tokens;
    }

    /// The result's totals replace the estimate.
    pub(crate) fn result(&mut self, usage: Option<&Usage>, cost_usd: Option<f64>) {
        let tokens = usage
            .map(|u| {
                u.input_tokens + u.cached_input_tokens + u.cache_creation_tokens + u.output_tokens
            })
            .unwrap_or(self.tokens);
        self.done = Some(RunningUsage { tokens, cost_usd });
    }

    pub(crate) fn now(&self) -> RunningUsage {
        self.done.unwrap_or(RunningUsage {
            tokens: self.tokens,
            cost_usd: None,
        })
    }
}
