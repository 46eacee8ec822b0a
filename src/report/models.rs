//! The per-model split of a run's usage for `show` (control.md §5): what each model used over
//! the run's agent steps, from the `usage.models` of their `step_end` records (claude's
//! `modelUsage`, sub-agents' models included).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::show::StepRow;
use crate::console::format;

/// One model's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTotals {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// Every model named by the steps' usage, by name.
pub fn totals(steps: &[StepRow]) -> BTreeMap<String, ModelTotals> {
    let mut out: BTreeMap<String, ModelTotals> = BTreeMap::new();
    let models = steps
        .iter()
        .filter_map(|s| s.usage.as_ref()?.get("models")?.as_object());
    for map in models {
        for (name, m) in map {
            let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
            let t = out.entry(name.clone()).or_default();
            t.input_tokens += n("input_tokens");
            t.cached_input_tokens += n("cached_input_tokens");
            t.output_tokens += n("output_tokens");
            if let Some(cost) = m.get("cost_usd").and_then(Value::as_f64) {
                t.cost_usd = Some(t.cost_usd.unwrap_or(0.0) + cost);
            }
        }
    }
    out
}

/// `  claude-sonnet-5: 12 input / 310 output tokens, $0.04` lines, one per model, when the
/// steps used more than one model or any.
pub fn text(steps: &[StepRow]) -> String {
    totals(steps)
        .iter()
        .map(|(name, t)| {
            let cost = t
                .cost_usd
                .map(|c| format!(", {}", format::cost(c)))
                .unwrap_or_default();
            format!(
                "  {name}: {} input / {} output tokens{cost}\n",
                format::tokens(t.input_tokens),
                format::tokens(t.output_tokens)
            )
        })
        .collect()
}

/// The `usage.models` object of `show --json`.
pub fn json(steps: &[StepRow]) -> Value {
    let map: serde_json::Map<String, Value> = totals(steps)
        .into_iter()
        .map(|(name, t)| {
            (
                name,
                json!({
                    "input_tokens": t.input_tokens,
                    "cached_input_tokens": t.cached_input_tokens,
                    "output_tokens": t.output_tokens,
                    "cost_usd": t.cost_usd.map(|c| (c * 1e6).round() / 1e6),
                }),
            )
        })
        .collect();
    Value::Object(map)
}
