//! Why a claude turn failed, from claude's own structured fields (control.md §3), checked against
//! the stream message types of `@anthropic-ai/claude-agent-sdk` 0.3.336 and claude 2.1.197:
//!
//! - `assistant.error` (`SDKAssistantMessageError`): `rate_limit` (a 429, and also a reached
//!   usage limit: then a `rate_limit_event` with `rate_limit_info.status: "rejected"` says when
//!   it resets, in `resetsAt`, Unix seconds), `billing_error`, `overloaded`, `server_error` (5xx,
//!   529, but also a lost connection or a request timeout: the text tells them apart),
//!   `authentication_failed`;
//! - `system/api_retry` (`error` of the same type): what the last retry was about, when claude
//!   gave up retrying;
//! - `result.subtype` (`error_max_turns`, `error_max_budget_usd`), `result.terminal_reason`
//!   (`max_turns`, `budget_exhausted`), `result.startup_failure_reason`
//!   (`resume_target_not_found`) and `result.api_error_status` (the HTTP status).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::classify;
use super::event::ErrorClass;

/// What the stream said about failure, gathered line by line.
#[derive(Debug, Default)]
pub struct Signals {
    /// An assistant message had `error: authentication_failed`.
    pub auth_failed: bool,
    /// The last top-level `assistant.error` kind, with that message's text.
    pub api_error: Option<(String, String)>,
    /// The `error` of the last `api_retry` event.
    pub retry_error: Option<String>,
    /// When a rejected usage limit resets (`rate_limit_event`).
    pub quota_reset: Option<SystemTime>,
}

/// The structured facts of the `result` line.
#[derive(Debug, Default)]
pub struct ResultFacts {
    pub subtype: String,
    pub terminal_reason: Option<String>,
    pub startup_failure_reason: Option<String>,
    pub api_error_status: Option<u64>,
}

impl Signals {
    /// `rate_limit_event`: a rejected limit with its reset time (Unix seconds).
    pub fn rate_limit_event(&mut self, status: Option<&str>, resets_at: Option<f64>) {
        if status == Some("rejected")
            && let Some(secs) = resets_at.filter(|s| s.is_finite() && *s > 0.0)
        {
            self.quota_reset = Some(UNIX_EPOCH + Duration::from_secs(secs as u64));
        }
    }

    /// The class the structured fields give, if any.
    pub fn class(&self, result: Option<&ResultFacts>) -> Option<ErrorClass> {
        if let Some(r) = result {
            if r.startup_failure_reason.as_deref() == Some("resume_target_not_found") {
                return Some(ErrorClass::SessionMissing);
            }
            match (r.subtype.as_str(), r.terminal_reason.as_deref()) {
                ("error_max_turns", _) | (_, Some("max_turns")) => {
                    return Some(ErrorClass::MaxTurns);
                }
                ("error_max_budget_usd", _) | (_, Some("budget_exhausted")) => {
                    return Some(ErrorClass::Budget);
                }
                _ => {}
            }
        }
        if let Some((kind, text)) = &self.api_error
            && let Some(class) = self.kind_class(kind, text)
        {
            return Some(class);
        }
        if let Some(class) = result
            .and_then(|r| r.api_error_status)
            .and_then(classify::from_status)
        {
            return Some(class);
        }
        self.retry_error
            .as_deref()
            .and_then(|kind| self.kind_class(kind, ""))
    }

    /// What an `SDKAssistantMessageError` kind means; `text` is the message that carried it.
    fn kind_class(&self, kind: &str, text: &str) -> Option<ErrorClass> {
        let by_text = classify::from_text(text);
        match kind {
            "rate_limit" if self.quota_reset.is_some() || by_text == Some(ErrorClass::Quota) => {
                Some(ErrorClass::Quota)
            }
            "rate_limit" => Some(ErrorClass::RateLimit),
            "billing_error" => Some(ErrorClass::Quota),
            "overloaded" => Some(ErrorClass::Overloaded),
            "server_error" if by_text == Some(ErrorClass::Network) => Some(ErrorClass::Network),
            "server_error" => Some(ErrorClass::Overloaded),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_fields_come_before_text() {
        let mut s = Signals {
            api_error: Some((
                "rate_limit".into(),
                "API Error: Request rejected (429)".into(),
            )),
            ..Signals::default()
        };
        assert_eq!(s.class(None), Some(ErrorClass::RateLimit));
        s.rate_limit_event(Some("rejected"), Some(1_900_000_000.0));
        assert_eq!(s.class(None), Some(ErrorClass::Quota));
        assert_eq!(
            s.quota_reset,
            Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        );
        let lost = Signals {
            api_error: Some((
                "server_error".into(),
                "API Error: Connection to the API was lost (ECONNRESET).".into(),
            )),
            ..Signals::default()
        };
        assert_eq!(lost.class(None), Some(ErrorClass::Network));
        let turns = ResultFacts {
            subtype: "error_max_turns".into(),
            ..ResultFacts::default()
        };
        assert_eq!(lost.class(Some(&turns)), Some(ErrorClass::MaxTurns));
        let status = ResultFacts {
            api_error_status: Some(529),
            ..ResultFacts::default()
        };
        assert_eq!(
            Signals::default().class(Some(&status)),
            Some(ErrorClass::Overloaded)
        );
    }
}
