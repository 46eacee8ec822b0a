//! What a run, a container or a step has spent: tokens (input, cached input and output) and US
//! dollars as the CLIs report them; how it reads in messages; and what a run committed before
//! it was resumed, from its audit log.

use std::ops::Add;
use std::path::Path;

use crate::state::spending_step_ends;

/// Tokens and cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    pub tokens: u64,
    pub cost_usd: f64,
}

impl Add for Spent {
    type Output = Spent;
    fn add(self, other: Spent) -> Spent {
        Spent {
            tokens: self.tokens + other.tokens,
            cost_usd: self.cost_usd + other.cost_usd,
        }
    }
}

/// `$5.02`
pub fn usd(value: f64) -> String {
    format!("${value:.2}")
}

/// `3,000,000`
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the steps of a run (under `prefix`, every step when it is empty) committed before, from
/// every `step_end` of its audit log: every attempt and every earlier invocation counts.
pub fn spent_in_audit(audit: &Path, prefix: &str) -> Spent {
    spending_step_ends(audit, None)
        .iter()
        .filter(|r| r.path.starts_with(prefix))
        .map(|r| {
            let usage = r.data.get("usage");
            let field = |name: &str| {
                usage
                    .and_then(|u| u.get(name))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            };
            let tokens = match usage.and_then(|u| u.get("total_tokens")) {
                Some(total) => total.as_u64().unwrap_or(0),
                None => {
                    field("input_tokens")
                        + field("cached_input_tokens")
                        + field("cache_creation_tokens")
                        + field("output_tokens")
                }
            };
            Spent {
                tokens,
                cost_usd: r
                    .data
                    .get("cost_usd")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0),
            }
        })
        .fold(Spent::default(), |a, b| a + b)
}
