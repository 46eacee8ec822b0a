//! The executors' side of `timeout` and `idle_timeout` (control.md §2): the limits of a shell or
//! headless step, the console line when one is reached, and the step's failure afterwards.

use std::time::Duration;

use tokio::sync::mpsc;

use super::super::outcome::{End, ErrorClass, Failure};
use super::super::process::limits::{Expired, KILL_GRACE, LimitKind, Limits};
use super::super::run::{Event, Report, StepCtx};
use crate::state::TimeoutRecord;
use crate::workflow::duration::{Limit, StepLimits, format};

/// The one built-in limit: a headless agent silent for this long is stuck.
pub const HEADLESS_IDLE: Duration = Duration::from_secs(30 * 60);

/// The limits of the step's attempt, and where the moment one is reached is told. `agent` is the
/// CLI of an agent step and its profiles' limits (`None` for a shell step). Most specific first:
/// the step, its profile, the workflow's `defaults`, `clis.<cli>` in the configuration, the
/// configuration's own keys, then the built-in idle limit of headless steps.
pub fn limits(
    cx: &StepCtx<'_, '_>,
    agent: Option<(&str, StepLimits)>,
) -> (Limits, mpsc::UnboundedReceiver<Expired>) {
    let cli = agent.map(|(cli, _)| cli);
    let profile = agent.map(|(_, limits)| limits).unwrap_or_default();
    let (tx, rx) = mpsc::unbounded_channel();
    let config = cx.config();
    let from_cli = cli
        .and_then(|cli| config.clis.get(cli))
        .map(|c| c.limits)
        .unwrap_or_default();
    let set = cx
        .at
        .step
        .limits
        .or(profile)
        .or(cx.at.ctx.workflow.default_limits)
        .or(from_cli)
        .or(config.limits);
    let idle = match set.idle_timeout {
        Some(limit) => limit.duration(),
        None if cli.is_some() => Some(HEADLESS_IDLE),
        None => None,
    };
    let limits = Limits {
        wall: set.timeout.and_then(Limit::duration),
        idle,
        grace: config.kill_grace.unwrap_or(KILL_GRACE),
        notice: Some(tx),
        halt: None,
    };
    (limits, rx)
}

/// `  timed out after 5s (wall); stopping the command`
pub fn announce(cx: &mut StepCtx<'_, '_>, expired: Expired, what: &str) {
    let _ = cx.emit(Event::Line(announce_line(expired, what)));
}

/// The console line of [`announce`].
pub fn announce_line(expired: Expired, what: &str) -> String {
    format!(
        "  timed out after {} ({}); stopping {what}",
        format(expired.limit),
        expired.kind.as_str()
    )
}

/// The failure of a step stopped by `expired`: class `timeout`, and `timeout{kind, limit_ms}`
/// in its record. A timeout is never a success, whatever the child did during the grace.
pub fn timed_out(cx: &StepCtx<'_, '_>, expired: Expired) -> Report {
    failure(&cx.at.step.id, expired)
}

/// The failure of step `id` stopped by `expired` (see [`timed_out`]).
pub fn failure(id: &str, expired: Expired) -> Report {
    let limit = format(expired.limit);
    let message = match expired.kind {
        LimitKind::Wall => format!("step \"{id}\" timed out after {limit} (wall)"),
        LimitKind::Idle => format!("step \"{id}\" produced no output for {limit} (idle)"),
    };
    let mut report = Report::new(End::Failed(Failure::new(ErrorClass::Timeout, message)));
    report.record.timeout = Some(TimeoutRecord {
        kind: expired.kind.as_str().to_owned(),
        limit_ms: u64::try_from(expired.limit.as_millis()).unwrap_or(u64::MAX),
    });
    report
}
