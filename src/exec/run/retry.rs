//! Retrying a failed shell or headless step (control.md §4). Each try is a start of the step
//! with its own `step_start` and `step_end`; the try's number is stored in the frame
//! (`retry_attempt`) before it starts, so a resume after a crash continues the count. A failure
//! whose class the policy retries, with tries left, is followed by the console line
//! `  retry 2/3 in 10s (rate_limit: <message>)`, a `step_retry` event and the delay, which a
//! signal cuts short (the run stops as interrupted, resumable). A simulation records the tries
//! and says the delay, but does not wait. Only the last try's end counts for the step (flow
//! control, the summary).

use std::time::{Duration, Instant, SystemTime};

use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::event::Event;
use super::step::{At, Report, shown_message};
use super::walk::Runtime;
use crate::state::{FailureRecord, FrameState, StepOutcome, StepRetry};
use crate::workflow::duration::format;
use crate::workflow::retry::Retry;
use crate::workflow::{AgentMode, StepKind};

/// A quota that resets later than this is not waited for (`wait_for_reset`).
const RESET_HORIZON: Duration = Duration::from_secs(6 * 3600);

/// How the next try is announced and how long it waits.
struct Next {
    delay: Duration,
    /// `in 10s`, or the reset time of a quota.
    when: String,
}

impl Runtime {
    /// Runs the step, with its retries if it has a policy; records how it ended. `Some(end)`
    /// ends the list, as [`Runtime::finish_step`].
    pub(super) async fn run_attempts(
        &mut self,
        at: &At<'_>,
        started: Instant,
    ) -> Result<Option<End>, RunError> {
        let Some(policy) = policy(at) else {
            let report = self.run_step(at).await?;
            return self.finish_step(at, report, started);
        };
        let depth = at.ctx.depth;
        // A run that failed after its last try gets a full set again; a crash or an
        // interruption continues the count.
        let mut attempt = match self.frame(depth).as_deref() {
            Some(frame) if frame.state != FrameState::Failed => frame.retry_attempt + 1,
            _ => 1,
        };
        let last = policy.attempts.max(attempt);
        let mut waited_for_reset = false;
        let mut started = started;
        let mut previous: Option<Failure> = None;
        loop {
            // A try is a start of the step: not at a budget's limit (control.md §11).
            let refused = previous
                .as_ref()
                .and_then(|_| self.budget.refusal(at.audit_path, at.step.budget()));
            if let Some(why) = refused {
                let mut report = Report::failed(Failure::new(ErrorClass::Budget, why));
                report.record.attempt = Some(attempt);
                return self.finish_step(at, report, started);
            }
            self.emit(Event::RetryAttempt { depth, attempt })?;
            let this_at = At {
                resuming: at.resuming || attempt > 1,
                previous_failure: previous.as_ref(),
                ..*at
            };
            let mut report = self.run_step(&this_at).await?;
            report.record.attempt = Some(attempt);
            let next = match &report.end {
                End::Failed(failure) => {
                    next_try(&policy, failure, attempt, last, &mut waited_for_reset)
                }
                _ => None,
            };
            let (Some(next), End::Failed(failure)) = (next, &report.end) else {
                return self.finish_step(at, report, started);
            };
            let failure = failure.clone();
            self.end_attempt(at, report, started)?;
            let total = last.max(attempt + 1);
            // A simulation never sleeps (control.md §11): it says what a run would wait.
            let simulated = self.settings.simulate.is_some();
            let when = if simulated {
                format!("{} (not waited: simulation)", next.when)
            } else {
                next.when.clone()
            };
            self.emit(Event::Retrying {
                path: at.audit_path.to_owned(),
                line: format!(
                    "  retry {}/{total} {when} ({}: {})",
                    attempt + 1,
                    failure.class,
                    failure.message
                ),
                record: StepRetry {
                    attempt: attempt + 1,
                    class: Some(failure.class),
                    message: failure.message.clone(),
                    delay_ms: u64::try_from(next.delay.as_millis()).unwrap_or(u64::MAX),
                },
            })?;
            let delay = if simulated {
                Duration::ZERO
            } else {
                next.delay
            };
            let mut interrupts = self.interrupts.clone();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = interrupts.stop_requested() => {
                    self.emit(Event::Interrupted { depth })?;
                    return Ok(Some(End::Interrupted));
                }
            }
            previous = Some(failure);
            attempt += 1;
            started = Instant::now();
        }
    }

    /// The `step_end` of a try that is retried: failed, with its class, and nothing else (the
    /// step goes on).
    fn end_attempt(
        &mut self,
        at: &At<'_>,
        report: Report,
        started: Instant,
    ) -> Result<(), RunError> {
        let Report {
            end, mut record, ..
        } = report;
        let End::Failed(failure) = end else {
            return Ok(());
        };
        record.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        record.outcome = Some(StepOutcome::Failed);
        record.error = Some(FailureRecord {
            class: Some(failure.class),
            message: Some(failure.message.clone()),
            reset_at: failure.reset_at.map(crate::state::format_rfc3339),
        });
        self.emit(Event::Line(format!(
            "  failed: {}",
            shown_message(&failure)
        )))?;
        self.emit(Event::StepEnded {
            path: at.audit_path.to_owned(),
            end: Box::new(record),
        })
    }
}

/// The retry policy of the step: its own, else its file's `defaults.retry`; only shell and
/// headless steps have one.
fn policy(at: &At<'_>) -> Option<Retry> {
    let retriable = match &at.step.kind {
        StepKind::Shell(shell) => !shell.interactive,
        StepKind::Agent(agent) => agent.mode == AgentMode::Headless,
        _ => false,
    };
    retriable
        .then(|| {
            at.step
                .retry
                .as_deref()
                .cloned()
                .or_else(|| at.ctx.workflow.default_retry.clone())
        })
        .flatten()
}

/// Whether `failure` of try `attempt` (of `last`) is tried again, and when.
fn next_try(
    policy: &Retry,
    failure: &Failure,
    attempt: u32,
    last: u32,
    waited_for_reset: &mut bool,
) -> Option<Next> {
    if failure.class == ErrorClass::Quota
        && policy.wait_for_reset
        && !*waited_for_reset
        && let Some(reset) = failure.reset_at
    {
        let wait = reset.duration_since(SystemTime::now()).unwrap_or_default();
        if wait <= RESET_HORIZON {
            *waited_for_reset = true;
            return Some(Next {
                delay: wait,
                when: format!(
                    "at {}, when the usage limit resets",
                    crate::state::format_rfc3339(reset)
                ),
            });
        }
    }
    if attempt >= last || !policy.on.contains(&failure.class) {
        return None;
    }
    let delay = policy.delay(attempt + 1, jitter());
    Some(Next {
        delay,
        when: format!("in {}", format(delay)),
    })
}

/// A random fraction in -0.2..=0.2 (±20 % jitter); none when no randomness is available.
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    let unit = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    (unit - 0.5) * 0.4
}
