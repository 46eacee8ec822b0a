//! Human formatting of durations, token counts and costs (cli.md §6).

use std::time::Duration;

/// `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        // Tenths, truncated so that 59.99 s never prints as "60.0s".
        return format!("{}.{}s", ms / 1000, (ms % 1000) / 100);
    }
    let secs = d.as_secs();
    if secs < 3600 {
        return format!("{}m{:02}s", secs / 60, secs % 60);
    }
    format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
}

/// Whole seconds for a ticking display: `7s`, `1m12s`, `1h02m`.
pub fn duration_coarse(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else {
        duration(Duration::from_secs(secs))
    }
}

/// `950`, `12.3k`, `1.21M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => trim_zeros(format!("{:.1}", n as f64 / 1000.0)) + "k",
        _ => trim_zeros(format!("{:.2}", n as f64 / 1_000_000.0)) + "M",
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// `SIGKILL` for 9; `signal 77` for numbers without a name.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

/// `$0.41`
pub fn cost(usd: f64) -> String {
    format!("${usd:.2}")
}

/// `41.2k in / 3.1k out tokens, $0.22`: an agent step's usage, the cost only when known.
pub fn usage(input: u64, output: u64, cost_usd: Option<f64>) -> String {
    let tokens = format!("{} in / {} out tokens", tokens(input), tokens(output));
    match cost_usd {
        Some(usd) => format!("{tokens}, {}", cost(usd)),
        None => tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(duration(Duration::from_millis(59_999)), "59.9s");
        assert_eq!(duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn token_counts_and_cost() {
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(12_300), "12.3k");
        assert_eq!(tokens(41_000), "41k");
        assert_eq!(tokens(1_210_000), "1.21M");
        assert_eq!(cost(0.2201), "$0.22");
    }
}
