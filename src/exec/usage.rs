//! Token usage and cost, rolled up over every agent step of the run (agents.md §10).

use crate::state::RunUsage;

use crate::console::format;

#[derive(Debug, Default, Clone)]
pub struct UsageTotals {
    pub agent_steps: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Agent steps that reported no cost (their CLI does not, or they were interactive).
    pub cost_missing: u64,
}

impl UsageTotals {
    /// Adds one agent step's figures.
    pub fn add(&mut self, input: u64, cached: u64, output: u64, cost: Option<f64>) {
        self.agent_steps += 1;
        self.input_tokens += input;
        self.cached_input_tokens += cached;
        self.output_tokens += output;
        match cost {
            Some(cost) => self.cost_usd += cost,
            None => self.cost_missing += 1,
        }
    }

    /// The `usage` of `run_end`; `None` when no agent step ran.
    pub fn to_record(&self) -> Option<RunUsage> {
        (self.agent_steps > 0).then(|| RunUsage {
            input_tokens: self.input_tokens,
            cached_input_tokens: self.cached_input_tokens,
            output_tokens: self.output_tokens,
            cost_usd: (self.cost_missing < self.agent_steps).then_some(self.cost_usd),
            cost_complete: self.cost_missing == 0,
        })
    }

    /// `agent-runner: usage: <in> input / <out> output tokens, $<cost>`, when any agent step ran.
    pub fn summary_line(&self) -> Option<String> {
        if self.agent_steps == 0 {
            return None;
        }
        let mut line = format!(
            "agent-runner: usage: {} input / {} output tokens",
            format::tokens(self.input_tokens),
            format::tokens(self.output_tokens)
        );
        if self.cost_missing < self.agent_steps {
            line.push_str(&format!(", {}", format::cost(self.cost_usd)));
        }
        if self.cost_missing > 0 {
            line.push_str(&format!(" (cost unknown for {} steps)", self.cost_missing));
        }
        Some(line)
    }
}
