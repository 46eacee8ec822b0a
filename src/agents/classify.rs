//! The text side of failure classification (control.md §3): what every adapter falls back to
//! when its CLI's structured fields did not say why a turn failed. Each adapter reads its own
//! structured fields first (claude `assistant.error`, `result.subtype`, `terminal_reason`, an
//! HTTP status); only a failure still classed `cli_error` or `exit_status` after that is matched
//! against the wording the CLIs use, here.

use super::event::{Completion, ErrorClass, ExitInfo};

/// The class an HTTP status from a provider means, if any.
pub fn from_status(status: u64) -> Option<ErrorClass> {
    match status {
        429 => Some(ErrorClass::RateLimit),
        500 | 502 | 503 | 504 | 529 => Some(ErrorClass::Overloaded),
        _ => None,
    }
}

/// The class a CLI's error text names, if any. The order matters: a usage limit reached is
/// also worded as a rate limit by some CLIs, and it is not retried by default.
pub fn from_text(text: &str) -> Option<ErrorClass> {
    let lower = text.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if any(&[
        "no conversation found",
        "no rollout found",
        "session not found",
        "no session, task, or name matched",
        "error resuming session",
    ]) {
        Some(ErrorClass::SessionMissing)
    } else if any(&[
        "usage limit",
        "hit your limit",
        "quota exceeded",
        "insufficient_quota",
        "credit balance is too low",
        "out of usage",
        "out of credits",
    ]) {
        Some(ErrorClass::Quota)
    } else if any(&[
        "rate limit",
        "rate_limit",
        "ratelimit",
        "too many requests",
        "(429)",
        "status: 429",
        "status 429",
    ]) {
        Some(ErrorClass::RateLimit)
    } else if any(&[
        "overloaded",
        "at capacity",
        "internal server error",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "server-side issue",
    ]) {
        Some(ErrorClass::Overloaded)
    } else if any(&[
        "stream disconnected",
        "error sending request",
        "connection refused",
        "connection reset",
        "connection error",
        "connection failed",
        "connection to the api was lost",
        "econnreset",
        "econnrefused",
        "enotfound",
        "eai_again",
        "etimedout",
        "failed to lookup address",
        "name does not resolve",
        "network is unreachable",
        "request timed out",
    ]) {
        Some(ErrorClass::Network)
    } else {
        None
    }
}

/// Refines a completion's failure by its text when the structured fields left it generic
/// (`cli_error`, `exit_status`): the failure's message first, then the CLI's stderr.
pub fn refine(completion: &mut Completion, exit: &ExitInfo) {
    let Some(failure) = completion.failure.as_mut() else {
        return;
    };
    if !matches!(failure.class, ErrorClass::CliError | ErrorClass::ExitStatus) {
        return;
    }
    if let Some(class) = from_text(&failure.message).or_else(|| from_text(&exit.stderr_tail)) {
        failure.class = class;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clis_wordings_land_in_their_classes() {
        for (text, class) in [
            (
                "No conversation found with session ID: 1234",
                ErrorClass::SessionMissing,
            ),
            (
                "no rollout found for thread id 0199",
                ErrorClass::SessionMissing,
            ),
            (
                "You've hit your usage limit. Try again at 3:15 PM.",
                ErrorClass::Quota,
            ),
            (
                "Quota exceeded. Check your plan and billing details.",
                ErrorClass::Quota,
            ),
            (
                "exceeded retry limit, last status: 429 Too Many Requests",
                ErrorClass::RateLimit,
            ),
            (
                "API Error: Request rejected (429) · slow down",
                ErrorClass::RateLimit,
            ),
            (
                "API Error: Repeated 529 Overloaded errors",
                ErrorClass::Overloaded,
            ),
            (
                "Selected model is at capacity. Please try a different model.",
                ErrorClass::Overloaded,
            ),
            (
                "stream disconnected before completion: error sending request for url",
                ErrorClass::Network,
            ),
            (
                "API Error: Connection to the API was lost (ECONNRESET).",
                ErrorClass::Network,
            ),
        ] {
            assert_eq!(from_text(text), Some(class), "{text}");
        }
        assert_eq!(from_text("exit status 1: something broke"), None);
        assert_eq!(from_text("codex failed with exit status 5"), None);
        assert_eq!(from_status(429), Some(ErrorClass::RateLimit));
        assert_eq!(from_status(529), Some(ErrorClass::Overloaded));
        assert_eq!(from_status(400), None);
    }
}
