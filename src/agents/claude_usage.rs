//! Claude's usage figures (control.md §5 "Correct totals"). Checked against the Claude Agent SDK
//! 0.3.336 types (claude 2.1.197): `result.modelUsage` holds per-model totals of every model call
//! of the invocation — main loop, Task sub-agents, compaction — with `costUSD`, and
//! `thinkingTokens` already counted inside `outputTokens`; `result.usage` covers the main loop
//! only, so it is the fallback when `modelUsage` is missing. While the step runs, each assistant
//! message (sub-agents' included) carries `message.usage`, repeated on every content block of
//! the same `message.id`: the running figure is the sum over message ids of the latest usage.

use std::collections::HashMap;

use serde::Deserialize;

use super::event::{ModelUsage, RunningUsage, SessionSpend, Usage};
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

/// A little less than a cent's millionth: costs are sums of floats.
const COST_EPSILON: f64 = 1e-9;

/// The invocation's own split and cost from the result of a resumed session. claude's result
/// totals continue from those its transcript saved (Claude Agent SDK: "a resumed or forked
/// session continues from the totals its transcript saved, when it has them"), which are what
/// the session's earlier invocations reported (`before`): they are taken off when the result
/// includes them: every earlier model with at least its earlier figures, the cost at least the
/// earlier cost, and what is left at least the tokens this invocation's own assistant messages
/// reported (`streamed`). `None` when it does not (a transcript without totals): the result is
/// the invocation's own already.
pub(crate) fn since(
    models: &[ModelUsage],
    cost_usd: Option<f64>,
    before: &SessionSpend,
    streamed: u64,
) -> Option<(Vec<ModelUsage>, Option<f64>)> {
    let less =
        |now: f64, earlier: f64| (now + COST_EPSILON >= earlier).then(|| (now - earlier).max(0.0));
    if before
        .models
        .iter()
        .any(|b| !models.iter().any(|m| m.model == b.model))
    {
        return None;
    }
    let mut own = Vec::with_capacity(models.len());
    for m in models {
        let earlier = before.models.iter().find(|b| b.model == m.model);
        let (usage, cost) = match earlier {
            None => (m.usage, m.cost_usd),
            Some(b) => (
                m.usage.minus(&b.usage)?,
                match (m.cost_usd, b.cost_usd) {
                    (Some(now), Some(then)) => Some(less(now, then)?),
                    (now, _) => now,
                },
            ),
        };
        own.push(ModelUsage {
            model: m.model.clone(),
            usage,
            cost_usd: cost,
        });
    }
    if tokens(&total(&own)) < streamed {
        return None;
    }
    let cost = match cost_usd {
        Some(now) => Some(less(now, before.cost_usd)?),
        None => None,
    };
    Some((own, cost))
}

/// The tokens budgets count: input (cached and cache creation included) and output.
fn tokens(u: &Usage) -> u64 {
    u.input_tokens + u.cached_input_tokens + u.cache_creation_tokens + u.output_tokens
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
        let tokens = tokens(&usage.usage());
        let before = self.by_message.insert(id.to_owned(), tokens).unwrap_or(0);
        self.tokens = self.tokens - before + tokens;
    }

    /// The result's totals replace the estimate.
    pub(crate) fn result(&mut self, usage: Option<&Usage>, cost_usd: Option<f64>) {
        let tokens = usage.map(tokens).unwrap_or(self.tokens);
        self.done = Some(RunningUsage { tokens, cost_usd });
    }

    /// The tokens this invocation's assistant messages reported.
    pub(crate) fn streamed(&self) -> u64 {
        self.tokens
    }

    pub(crate) fn now(&self) -> RunningUsage {
        self.done.unwrap_or(RunningUsage {
            tokens: self.tokens,
            cost_usd: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, input: u64, cost: f64) -> ModelUsage {
        ModelUsage {
            model: name.to_owned(),
            usage: Usage {
                input_tokens: input,
                ..Usage::default()
            },
            cost_usd: Some(cost),
        }
    }

    fn before(models: Vec<ModelUsage>, cost_usd: f64) -> SessionSpend {
        SessionSpend { models, cost_usd }
    }

    #[test]
    fn a_resumed_sessions_totals_lose_what_its_earlier_invocations_reported() {
        let earlier = before(vec![model("opus", 1000, 0.3)], 0.3);
        let now = [model("haiku", 50, 0.01), model("opus", 1500, 0.5)];
        let (own, cost) = since(&now, Some(0.51), &earlier, 550).expect("cumulative");
        assert_eq!(own[0], model("haiku", 50, 0.01));
        assert_eq!(own[1].usage.input_tokens, 500);
        assert!((own[1].cost_usd.unwrap() - 0.2).abs() < 1e-9);
        assert!((cost.unwrap() - 0.21).abs() < 1e-9);
    }

    #[test]
    fn totals_that_do_not_include_the_earlier_ones_are_the_invocations_own() {
        let earlier = before(vec![model("opus", 1000, 0.3)], 0.3);
        let own = |name: &str, input: u64, cost: f64, streamed: u64| {
            since(&[model(name, input, cost)], Some(cost), &earlier, streamed).is_none()
        };
        // Fewer tokens than before: the transcript kept no totals.
        assert!(own("opus", 400, 0.4, 0));
        // Less cost than before.
        assert!(own("opus", 1400, 0.2, 0));
        // An earlier model missing from the result.
        assert!(own("haiku", 1400, 0.4, 0));
        // As much as before again, but the invocation's own messages reported more than the
        // difference: these are its own figures.
        assert!(own("opus", 2000, 0.6, 1500));
        assert!(!own("opus", 2000, 0.6, 1000));
    }
}
