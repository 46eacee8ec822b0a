//! Durations (control.md §1): one or more `<integer><unit>` parts, units `h`, `m`, `s`, `ms`,
//! largest first (`90s`, `15m`, `1h30m`, `500ms`), and the step limits written with them.

use std::time::Duration;

use super::fields::{MapReader, Sink, Target};
use super::yaml::Node;

/// The hint every duration error carries.
pub const DURATION_HINT: &str = "write \"30s\" or \"5m\"";

/// A configured limit: a duration, or `none` to switch a default off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Off,
    After(Duration),
}

impl Limit {
    /// The duration in force, if any.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Limit::Off => None,
            Limit::After(d) => Some(d),
        }
    }
}

/// `timeout` and `idle_timeout` of one step, as written (`None`: not set on the step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepLimits {
    pub timeout: Option<Limit>,
    pub idle_timeout: Option<Limit>,
}

/// `timeout` and `idle_timeout` of a mapping (a step, workflow `defaults`, a configuration
/// layer or `clis.<cli>`).
pub fn read_limits(r: &MapReader<'_, '_>, sink: &mut Sink) -> StepLimits {
    StepLimits {
        timeout: read_limit(r, "timeout", sink),
        idle_timeout: read_limit(r, "idle_timeout", sink),
    }
}

/// A limit at `key`: a duration or `none`; anything else is the `duration` error.
pub fn read_limit(r: &MapReader<'_, '_>, key: &str, sink: &mut Sink) -> Option<Limit> {
    read_with(r, key, sink, parse_limit, ", or \"none\" for no limit")
}

/// A duration at `key` (no `none`); anything else is the `duration` error.
pub fn read_duration(r: &MapReader<'_, '_>, key: &str, sink: &mut Sink) -> Option<Duration> {
    read_with(r, key, sink, parse, "")
}

/// The value at `key` parsed by `parse`; a failure is the `duration` error, its hint ending
/// with `more`.
fn read_with<T>(
    r: &MapReader<'_, '_>,
    key: &str,
    sink: &mut Sink,
    parse: fn(&str) -> Result<T, String>,
    more: &str,
) -> Option<T> {
    let node = r.get(key)?;
    let parsed = match node {
        Node::Str(text) => parse(text),
        other => Err(format!("{} is not a duration", other.describe())),
    };
    match parsed {
        Ok(value) => Some(value),
        Err(why) => {
            sink.error_help(
                "duration",
                format!("invalid {key}: {why}"),
                format!("{DURATION_HINT}{more}"),
                r.path_of(key),
                Target::Value,
            );
            None
        }
    }
}

impl StepLimits {
    /// `self` where set, else `lower`.
    pub fn or(self, lower: StepLimits) -> StepLimits {
        StepLimits {
            timeout: self.timeout.or(lower.timeout),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
        }
    }
}

/// Parses a limit: `none` or a duration.
pub fn parse_limit(text: &str) -> Result<Limit, String> {
    if text == "none" {
        return Ok(Limit::Off);
    }
    parse(text).map(Limit::After)
}

/// Parses a duration; the error says what is wrong (the caller adds [`DURATION_HINT`]).
pub fn parse(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    if text.is_empty() {
        return Err("a duration must not be empty".to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("\"{text}\" has no unit"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut last_rank = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("\"{text}\" is not a duration"));
        }
        let (number, after) = rest.split_at(digits);
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "\"{text}\": unknown unit \"{unit}\" (use h, m, s or ms)"
            ));
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(format!(
                "\"{text}\": write the units largest first, each once"
            ));
        }
        last_rank = Some(rank);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("\"{text}\" is too large"))?;
        total = value
            .checked_mul(UNITS[rank].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("\"{text}\" is too large"))?;
        rest = after;
    }
    if total == 0 {
        return Err(format!("\"{text}\" is zero"));
    }
    Ok(Duration::from_millis(total))
}

/// A duration as users write it: `1h30m`, `90s` → `1m30s`, `500ms`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    let mut out = String::new();
    let parts = [
        (ms / 3_600_000, "h"),
        (ms / 60_000 % 60, "m"),
        (ms / 1_000 % 60, "s"),
        (ms % 1_000, "ms"),
    ];
    for (value, unit) in parts {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_largest_unit_first() {
        let ms = |t: &str| parse(t).map(|d| d.as_millis());
        assert_eq!(ms("90s"), Ok(90_000));
        assert_eq!(ms("15m"), Ok(900_000));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("1m500ms"), Ok(60_500));
    }

    #[test]
    fn bad_durations_say_why() {
        for (text, why) in [
            ("30", "no unit"),
            ("0s", "zero"),
            ("", "empty"),
            ("5x", "unknown unit"),
            ("30s5m", "largest first"),
            ("1m1m", "largest first"),
            ("s", "not a duration"),
            ("-5s", "not a duration"),
            ("99999999999999999999h", "too large"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn none_switches_a_limit_off() {
        assert_eq!(parse_limit("none"), Ok(Limit::Off));
        assert_eq!(parse_limit("2s"), Ok(Limit::After(Duration::from_secs(2))));
    }

    #[test]
    fn durations_format_as_written() {
        assert_eq!(format(Duration::from_millis(5_400_000)), "1h30m");
        assert_eq!(format(Duration::from_millis(90_000)), "1m30s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
    }
}
