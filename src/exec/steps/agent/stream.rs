//! A headless agent step's stream: run the CLI, parse each stdout line with the adapter's
//! parser, report the rendered events and the session id as soon as it shows, keep the text
//! transcript, and turn the parser's completion into the step's report.

use tokio::sync::mpsc;

use super::super::super::budget::{Spent, StepMeter, Tracker};
use super::super::super::error::RunError;
use super::super::super::files::write_private;
use super::super::super::outcome::{End, ErrorClass, Failure};
use super::super::super::process::headless::{self, HeadlessJob};
use super::super::super::run::{Event, Report, StepCtx};
use super::super::shell::insert_status;
use super::super::timeouts;
use super::plan::Plan;
use super::record;
use super::start::Launch;
use crate::agents::render::{self, RenderOptions};
use crate::agents::{self, AgentEvent, Completion, ExitInfo, RunningUsage, StreamParser};
use crate::workflow::AgentStep;

/// Runs the CLI to its end and reports how the step went.
pub async fn run(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
    launch: Launch,
) -> Result<Report, RunError> {
    let Launch {
        invocation,
        spec,
        env,
        stem,
    } = launch;
    let output_dir = cx.output_dir();
    let (mut limits, mut notices) = timeouts::limits(cx, Some(&plan.resolved.cli));
    let tracker = cx.budget();
    let meter = tracker.begin_step(cx.at.audit_path, cx.at.step.budget);
    limits.halt = Some(meter.halt.clone());
    let job = HeadlessJob {
        program: spec.program.clone(),
        args: spec.args.clone(),
        env: agents::child_env(std::env::vars(), &spec, &env),
        workdir: invocation.workdir.clone(),
        stream_file: output_dir.join(format!("{stem}.stream.jsonl")),
        stderr_file: output_dir.join(format!("{stem}.stderr")),
        limits,
    };
    let text_path = output_dir.join(format!("{stem}.txt"));
    let mut text_file = String::new();
    let mut parser = plan.adapter.parser(&invocation);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let process = headless::run(job, tx, cx.interrupts());
    tokio::pin!(process);
    let mut session_id = plan.known_id.clone();
    let verbose = cx.settings().verbose;
    let shown = RenderOptions {
        colour: cx.colour(),
        verbose,
    };
    let plain = RenderOptions {
        colour: false,
        verbose,
    };
    let mut handle = |cx: &mut StepCtx<'_, '_>,
                      line: Vec<u8>,
                      session_id: &mut Option<String>,
                      text_file: &mut String|
     -> Result<(), RunError> {
        let events = parser.feed(&line);
        if let Some(now) = parser.running() {
            for warning in tracker.update(&meter, spent(now)).warnings {
                warn(cx, &warning);
            }
        }
        for event in events {
            if let AgentEvent::SessionStarted { id, .. } = &event {
                record::session_seen(cx, plan, session_id, id)?;
            }
            // The writer leaves out what goes to stderr with `--quiet`, never the step's output.
            for rendered in render::render(&event, shown) {
                cx.emit(Event::Output {
                    text: rendered.text,
                    target: rendered.target,
                })?;
            }
            for rendered in render::render(&event, plain) {
                text_file.push_str(&rendered.text);
                text_file.push('\n');
            }
        }
        Ok(())
    };
    crate::console::spinner::step_started();
    let end = loop {
        tokio::select! {
            Some(line) = rx.recv() => handle(cx, line, &mut session_id, &mut text_file)?,
            Some(expired) = notices.recv() => timeouts::announce(cx, expired, "the agent"),
            end = &mut process => {
                while let Ok(line) = rx.try_recv() {
                    handle(cx, line, &mut session_id, &mut text_file)?;
                }
                break end;
            }
        }
    };
    crate::console::spinner::step_ended();
    let _ = write_private(&text_path, &text_file);
    let outputs = vec![
        format!("output/{stem}.stream.jsonl"),
        format!("output/{stem}.txt"),
        format!("output/{stem}.stderr"),
    ];
    let end = match end {
        Ok(end) => end,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut report = Report::failed(plan.adapter.not_installed().into());
            report.record.outputs = Some(outputs);
            return Ok(report);
        }
        Err(err) => {
            let message = format!("cannot run {}: {err}", invocation.binary);
            return Ok(Report::failed(Failure::new(ErrorClass::Internal, message)));
        }
    };
    if let Some(why) = end.halted {
        // What the agent reported before it was stopped still counts.
        let completion = parser.finish(&ExitInfo::default());
        let used = used(&*parser, &completion);
        commit(cx, &tracker, &meter, used);
        let mut report = record::completion_report(cx, step, &completion, "", used.tokens)?;
        report.end = End::Failed(Failure::new(ErrorClass::Budget, why));
        report.record.outputs = Some(outputs);
        return record::keep_session(cx, step, plan, session_id, report);
    }
    if let Some(expired) = end.timed_out {
        // The session id seen before the limit is already in state: a resume continues it.
        let mut report = timeouts::timed_out(cx, expired);
        report.record.outputs = Some(outputs);
        return record::keep_session(cx, step, plan, session_id, report);
    }
    let Some(status) = end.status else {
        let mut report = Report::new(End::Interrupted);
        report.record.outputs = Some(outputs);
        return Ok(report);
    };
    use std::os::unix::process::ExitStatusExt;
    let exit = ExitInfo {
        code: status.code(),
        signal: status.signal(),
        stderr_tail: end.stderr_tail.clone(),
    };
    let completion = parser.finish(&exit);
    let used = used(&*parser, &completion);
    commit(cx, &tracker, &meter, used);
    if let Some(id) = &completion.session_id
        && session_id.as_deref() != Some(id)
    {
        record::session_seen(cx, plan, &mut session_id, id)?;
    }
    let mut report =
        record::completion_report(cx, step, &completion, &end.stderr_tail, used.tokens)?;
    if let Some(why) = meter.halt.reason() {
        // The step ended on its own after its last report crossed a budget.
        report.end = End::Failed(Failure::new(ErrorClass::Budget, why));
    }
    insert_status(&mut report.record, status);
    report.record.outputs = Some(outputs);
    record::keep_session(cx, step, plan, session_id, report)
}

fn spent(now: RunningUsage) -> Spent {
    Spent {
        tokens: now.tokens,
        cost_usd: now.cost_usd.unwrap_or(0.0),
    }
}

/// What the invocation used in all, as budgets count it.
fn used(parser: &dyn StreamParser, completion: &Completion) -> Spent {
    Spent {
        tokens: completion
            .usage
            .as_ref()
            .map(|u| parser.tokens_of(u))
            .unwrap_or(0),
        cost_usd: completion.cost_usd.unwrap_or(0.0),
    }
}

/// Commits the step's usage to the run's budgets and prints the warnings that earns.
fn commit(cx: &mut StepCtx<'_, '_>, tracker: &Tracker, meter: &StepMeter, used: Spent) {
    for warning in tracker.end_step(meter, used) {
        warn(cx, &warning);
    }
}

/// `  warning: this run has spent $4.01 of $5.00 (80 %)` under the step, and an audit `warning`
/// of code `budget`.
fn warn(cx: &mut StepCtx<'_, '_>, message: &str) {
    let _ = cx.emit(Event::Line(format!("  warning: {message}")));
    let _ = cx.emit(Event::Warning {
        path: cx.at.audit_path.to_owned(),
        code: "budget".to_owned(),
        message: message.to_owned(),
        shown: false,
    });
}
