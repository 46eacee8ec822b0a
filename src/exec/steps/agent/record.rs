//! What an agent step leaves behind: its session id the moment it is known, its outcome,
//! capture and usage from the parser's completion, and, at its end, the session it ran in as
//! its scope's latest (and its named session's).

use super::super::super::error::RunError;
use super::super::super::outcome::{End, ErrorClass, Failure};
use super::super::super::run::{Event, Report, StepCtx};
use super::super::shell::store_capture;
use super::plan::Plan;
use crate::agents::Completion;
use crate::console::format;
use crate::state::{
    CaptureValue, LastSession, ModelUsageRecord, NamedSession, SessionHow, SessionRecord,
    UsageRecord,
};
use crate::workflow::retry::Deny;
use crate::workflow::{AgentStep, SessionStrategy};

/// A session id arrived from the stream: record it at once (and save, so a crash can continue
/// the conversation).
pub fn session_seen(
    cx: &mut StepCtx<'_, '_>,
    plan: &Plan,
    current: &mut Option<String>,
    id: &str,
) -> Result<(), RunError> {
    if current.as_deref() == Some(id) {
        return Ok(());
    }
    let cli = &plan.resolved.cli;
    if let Some(expected) = current.as_deref() {
        cx.warn(
            "session_id_changed",
            &format!("{cli} reported session {id} instead of {expected}; using {id}"),
        );
    } else {
        let label = if plan.session.nothing_to_resume {
            "new, nothing to resume"
        } else {
            "new"
        };
        cx.emit(Event::Detail(format!("session: {id} ({label})")))?;
    }
    *current = Some(id.to_owned());
    cx.emit(Event::SessionSeen {
        step: cx.step_ref(),
        record: SessionRecord::new(cli, id, SessionHow::Stream),
        save: true,
    })
}

/// The step's report from the parser's completion: outcome, capture, usage.
pub fn completion_report(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
    completion: &Completion,
    stderr_tail: &str,
    total_tokens: u64,
) -> Result<Report, RunError> {
    let mut report = match &completion.failure {
        Some(failure) => {
            if !stderr_tail.is_empty() && !cx.settings().verbose {
                cx.emit(Event::StderrTail(stderr_tail.to_owned()))?;
            }
            Report::failed(failure.clone().into())
        }
        None => Report::new(End::Success),
    };
    if let Some(failure) = denials(cx, plan.resolved.deny, &completion.denials)?
        && matches!(report.end, End::Success)
    {
        report.end = End::Failed(failure);
    }
    if !completion.denials.is_empty() {
        report.record.denied = Some(completion.denials.len() as u64);
    }
    // A step with `output:` captures its JSON value instead (see `stream`).
    if let (Some(name), Some(text), None) = (&step.capture, &completion.final_text, &step.output)
        && let Err(failure) = store_capture(
            cx,
            name,
            CaptureValue::Text(text.trim().to_owned()),
            &mut report.record,
        )
    {
        report.end = End::Failed(failure);
    }
    let usage = completion.usage.unwrap_or_default();
    if completion.usage.is_some() || completion.cost_usd.is_some() {
        cx.emit(Event::Usage {
            input: usage.input_tokens,
            cached: usage.cached_input_tokens,
            output: usage.output_tokens,
            cost_usd: completion.cost_usd,
        })?;
        let text = format::usage(usage.input_tokens, usage.output_tokens, completion.cost_usd);
        report.usage_text = Some(text);
    } else {
        cx.emit(Event::Usage {
            input: 0,
            cached: 0,
            output: 0,
            cost_usd: None,
        })?;
    }
    report.record.usage = Some(UsageRecord {
        input_tokens: Some(usage.input_tokens),
        cached_input_tokens: Some(usage.cached_input_tokens),
        cache_creation_tokens: Some(usage.cache_creation_tokens),
        output_tokens: Some(usage.output_tokens),
        reasoning_tokens: Some(usage.reasoning_tokens),
        total_tokens: Some(total_tokens),
        models: (!completion.models.is_empty()).then(|| {
            completion
                .models
                .iter()
                .map(|m| {
                    (
                        m.model.clone(),
                        ModelUsageRecord {
                            input_tokens: m.usage.input_tokens,
                            cached_input_tokens: m.usage.cached_input_tokens,
                            cache_creation_tokens: m.usage.cache_creation_tokens,
                            output_tokens: m.usage.output_tokens,
                            reasoning_tokens: m.usage.reasoning_tokens,
                            cost_usd: m.cost_usd,
                        },
                    )
                })
                .collect()
        }),
    });
    report.record.cost_usd = Some(completion.cost_usd);
    report.record.num_turns = Some(completion.num_turns.map(u64::from));
    report.record.final_text_bytes = Some(completion.final_text.as_ref().map(|t| t.len() as u64));
    Ok(report)
}

/// Tool calls the CLI denied (control.md §3): one warning line for the step and a `warning`
/// event of code `permission_denied`; with `deny: fail` (the step's, its profile's
/// (`profile`), its file's `defaults`, the configuration's) the step's failure.
fn denials(
    cx: &mut StepCtx<'_, '_>,
    profile: Option<Deny>,
    denied: &[String],
) -> Result<Option<Failure>, RunError> {
    if denied.is_empty() {
        return Ok(None);
    }
    let message = match denied.len() {
        1 => format!("1 tool call was denied: {}", denied[0]),
        n => format!("{n} tool calls were denied: {}", denied.join(", ")),
    };
    let deny = cx
        .at
        .step
        .deny
        .or(profile)
        .or(cx.at.ctx.workflow.default_deny)
        .or(cx.config().deny)
        .unwrap_or(Deny::Warn);
    if deny == Deny::Fail {
        return Ok(Some(Failure::new(ErrorClass::PermissionDenied, message)));
    }
    cx.emit(Event::Line(format!("  warning: {message}")))?;
    cx.emit(Event::Warning {
        path: cx.at.audit_path.to_owned(),
        code: "permission_denied".to_owned(),
        message,
        shown: false,
    })?;
    Ok(None)
}

/// After the step: the session becomes the scope's most recent one (and the named session's).
pub fn keep_session(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
    session_id: Option<String>,
    mut report: Report,
) -> Result<Report, RunError> {
    report.record.session_id = Some(session_id.clone());
    let Some(id) = session_id else {
        return Ok(report);
    };
    let resolved = &plan.resolved;
    let named = match &step.session {
        SessionStrategy::Named(name) => Some((
            name.clone(),
            NamedSession {
                cli: resolved.cli.clone(),
                session_id: id.clone(),
                model: resolved.model.clone(),
                effort: resolved.effort,
            },
        )),
        _ => None,
    };
    cx.emit(Event::SessionKept {
        scope: cx.at.ctx.scope,
        last: LastSession {
            step_id: cx.at.step.id.clone(),
            cli: resolved.cli.clone(),
            session_id: id,
            model: resolved.model.clone(),
            effort: resolved.effort,
        },
        named,
    })?;
    Ok(report)
}
