//! Budgets (control.md §5): `budget: { max_cost_usd, max_tokens, warn_at }` on the workflow top
//! level, on headless agent steps, on containers and in the configuration. Bad values are the
//! `budget-value` error, with the key and the fix.

use super::fields::{MapReader, Sink, Target};
use super::yaml::Node;

/// The keys of a budget mapping.
pub const BUDGET_KEYS: &[&str] = &["max_cost_usd", "max_tokens", "warn_at"];

/// What `warn_at` is when it is not written.
pub const DEFAULT_WARN_AT: f64 = 0.8;

/// One budget as written. A budget with neither limit limits nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    pub max_cost_usd: Option<f64>,
    pub max_tokens: Option<u64>,
    pub warn_at: Option<f64>,
}

impl Budget {
    /// Whether it sets any limit.
    pub fn limits_anything(&self) -> bool {
        self.max_cost_usd.is_some() || self.max_tokens.is_some()
    }

    /// Each key from `self`, else from `lower`.
    pub fn or(self, lower: Budget) -> Budget {
        Budget {
            max_cost_usd: self.max_cost_usd.or(lower.max_cost_usd),
            max_tokens: self.max_tokens.or(lower.max_tokens),
            warn_at: self.warn_at.or(lower.warn_at),
        }
    }

    /// The fraction at which the warning is printed.
    pub fn warn_fraction(&self) -> f64 {
        self.warn_at.unwrap_or(DEFAULT_WARN_AT)
    }
}

/// `budget` of a mapping (a workflow, a step, a configuration layer), checked.
pub fn read_budget(r: &MapReader<'_, '_>, sink: &mut Sink) -> Option<Budget> {
    let node = r.get("budget")?;
    let Node::Map(entries) = node else {
        sink.error_help(
            "budget-value",
            format!("\"budget\" must be a mapping, found {}", node.describe()),
            "write budget: { max_cost_usd: 5, max_tokens: 2000000 }".to_owned(),
            r.path_of("budget"),
            Target::Value,
        );
        return None;
    };
    let b = MapReader::new(entries, r.path_of("budget"));
    let errors_before = sink.error_count();
    b.check_keys(BUDGET_KEYS, sink);
    let max_cost_usd = number(&b, "max_cost_usd", sink, |v| {
        (v > 0.0 && v.is_finite()).then_some(v)
    });
    let max_tokens = number(&b, "max_tokens", sink, |v| {
        (v >= 1.0 && v.fract() == 0.0 && v < 1e18).then_some(v as u64)
    });
    let warn_at = number(&b, "warn_at", sink, |v| {
        (0.0..=1.0).contains(&v).then_some(v)
    });
    let budget = Budget {
        max_cost_usd,
        max_tokens,
        warn_at,
    };
    if !budget.limits_anything() && sink.error_count() == errors_before {
        sink.error_help(
            "budget-value",
            "\"budget\" sets no limit".to_owned(),
            "add max_cost_usd or max_tokens".to_owned(),
            r.path_of("budget"),
            Target::Key,
        );
    }
    Some(budget)
}

/// What each key must be, for the message.
fn expected(key: &str) -> &'static str {
    match key {
        "max_cost_usd" => "a number of US dollars greater than 0, such as 5 or 0.50",
        "max_tokens" => "a whole number of tokens greater than 0, such as 2000000",
        _ => "a fraction from 0 to 1, such as 0.8",
    }
}

fn number<T>(
    r: &MapReader<'_, '_>,
    key: &str,
    sink: &mut Sink,
    accept: impl Fn(f64) -> Option<T>,
) -> Option<T> {
    let node = r.get(key)?;
    let value = match node {
        Node::Num { text, .. } => text.parse::<f64>().ok(),
        _ => None,
    };
    match value.and_then(accept) {
        Some(v) => Some(v),
        None => {
            sink.error_help(
                "budget-value",
                format!("invalid budget.{key}: found {}", node.describe()),
                format!("write {}", expected(key)),
                r.path_of(key),
                Target::Value,
            );
            None
        }
    }
}
