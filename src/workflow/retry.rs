//! `retry` (control.md §4) and `deny` (§3): the retry policy of a shell or headless step, in
//! its short form (`retry: 3`) or its long form, and what a headless step does when tool calls
//! were denied. Both can be set on a step or in a workflow's `defaults`; `deny` also in the
//! configuration.

use std::time::Duration;

use super::duration::read_duration;
use super::fields::{MapReader, Sink, Target};
use super::suggest::did_you_mean;
use super::yaml::Node;
use crate::error::ErrorClass;

/// The keys of the long form.
pub const RETRY_KEYS: &[&str] = &["attempts", "backoff", "max_delay", "on", "wait_for_reset"];
/// `attempts` is within this range.
pub const ATTEMPTS: std::ops::RangeInclusive<i64> = 2..=20;
const DEFAULT_BACKOFF: Duration = Duration::from_secs(10);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5 * 60);

/// A retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Total tries, the first included.
    pub attempts: u32,
    /// The delay before the second try; later delays double.
    pub backoff: Duration,
    /// The cap on one delay.
    pub max_delay: Duration,
    /// The failure classes that are retried.
    pub on: Vec<ErrorClass>,
    /// A `quota` failure that resets within 6 h is waited for and retried once more.
    pub wait_for_reset: bool,
}

impl Retry {
    /// The policy of the short form: `attempts` tries, default backoff and classes.
    pub fn attempts(attempts: u32) -> Retry {
        Retry {
            attempts,
            backoff: DEFAULT_BACKOFF,
            max_delay: DEFAULT_MAX_DELAY,
            on: ErrorClass::TRANSIENT.to_vec(),
            wait_for_reset: false,
        }
    }

    /// The delay before try `next` (2 for the second): `backoff` doubled for each try after the
    /// second, capped at `max_delay`, then moved by `jitter` (a fraction in -0.2..=0.2).
    pub fn delay(&self, next: u32, jitter: f64) -> Duration {
        let doublings = next.saturating_sub(2).min(30);
        let base = self
            .backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        base.mul_f64((1.0 + jitter.clamp(-0.2, 0.2)).max(0.0))
    }
}

/// What a headless step does when tool calls were denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deny {
    /// A warning line per step (the default).
    Warn,
    /// The step fails with class `permission_denied`.
    Fail,
}

impl Deny {
    pub fn parse(text: &str) -> Option<Deny> {
        match text {
            "warn" => Some(Deny::Warn),
            "fail" => Some(Deny::Fail),
            _ => None,
        }
    }
}

/// `deny` of a mapping: `warn` or `fail`.
pub fn read_deny(r: &MapReader<'_, '_>, sink: &mut Sink) -> Option<Deny> {
    r.keyword("deny", &["warn", "fail"], Deny::parse, sink)
}

/// `retry` of a mapping, in either form; every mistake is reported.
pub fn read_retry(r: &MapReader<'_, '_>, sink: &mut Sink) -> Option<Retry> {
    let node = r.get("retry")?;
    match node {
        Node::Num { int, .. } => attempts(*int, r, "retry", sink).map(Retry::attempts),
        Node::Map(entries) => {
            let path = r.path_of("retry");
            let m = MapReader::new(entries, path);
            m.check_keys(RETRY_KEYS, sink);
            let count = match m.get("attempts") {
                None => {
                    sink.error_help(
                        "retry-attempts",
                        "\"retry\" needs \"attempts\" (the total number of tries, 2 to 20)"
                            .to_owned(),
                        "write retry: {attempts: 3} or retry: 3".to_owned(),
                        r.path_of("retry"),
                        Target::Key,
                    );
                    None
                }
                Some(Node::Num { int, .. }) => attempts(*int, &m, "attempts", sink),
                Some(other) => {
                    sink.wrong_type("attempts", "an integer", other, m.path_of("attempts"));
                    None
                }
            };
            let mut retry = Retry::attempts(count.unwrap_or(2));
            if let Some(backoff) = read_duration(&m, "backoff", sink) {
                retry.backoff = backoff;
            }
            if let Some(max) = read_duration(&m, "max_delay", sink) {
                retry.max_delay = max;
            }
            if let Some(wait) = m.bool("wait_for_reset", sink) {
                retry.wait_for_reset = wait;
            }
            if let Some(items) = m.list("on", sink) {
                retry.on = classes(items, &m, sink);
            }
            count.map(|_| retry)
        }
        other => {
            sink.wrong_type(
                "retry",
                "a number of attempts or a mapping",
                other,
                r.path_of("retry"),
            );
            None
        }
    }
}

/// A number of attempts at `key`: 2 to 20, else `retry-attempts`.
fn attempts(int: Option<i64>, r: &MapReader<'_, '_>, key: &str, sink: &mut Sink) -> Option<u32> {
    match int.filter(|n| ATTEMPTS.contains(n)) {
        Some(n) => u32::try_from(n).ok(),
        None => {
            sink.error_help(
                "retry-attempts",
                format!(
                    "\"{key}\" must be a whole number from {} to {} (the total number of tries, the first included)",
                    ATTEMPTS.start(),
                    ATTEMPTS.end()
                ),
                "write retry: 3 for three tries".to_owned(),
                r.path_of(key),
                Target::Value,
            );
            None
        }
    }
}

/// The classes of `on`; unknown names are `retry-class` errors with a did-you-mean.
fn classes(items: &[Node], r: &MapReader<'_, '_>, sink: &mut Sink) -> Vec<ErrorClass> {
    let mut out = Vec::new();
    let on = r.path_of("on");
    for (i, item) in items.iter().enumerate() {
        let path = on.index(i);
        let Node::Str(name) = item else {
            sink.wrong_type(&format!("on[{i}]"), "an error class", item, path);
            continue;
        };
        match ErrorClass::parse(name) {
            Some(class) => out.push(class),
            None => sink.error_help(
                "retry-class",
                format!(
                    "unknown error class \"{name}\" in retry.on{}",
                    did_you_mean(name, ErrorClass::ALL.iter().map(|c| c.as_str()))
                ),
                "use classes such as timeout, rate_limit, overloaded, network or exit_status"
                    .to_owned(),
                path,
                Target::Value,
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter() {
        let r = Retry {
            max_delay: Duration::from_secs(25),
            ..Retry::attempts(5)
        };
        assert_eq!(r.delay(2, 0.0), Duration::from_secs(10));
        assert_eq!(r.delay(3, 0.0), Duration::from_secs(20));
        assert_eq!(r.delay(4, 0.0), Duration::from_secs(25));
        assert_eq!(r.delay(2, 0.2), Duration::from_secs(12));
        assert_eq!(r.delay(2, -0.5), Duration::from_secs(8));
        assert_eq!(r.delay(40, 0.0), Duration::from_secs(25));
    }
}
