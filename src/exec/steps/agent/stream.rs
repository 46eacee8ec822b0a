//! A headless agent step's stream: run the CLI, parse each stdout line with the adapter's
//! parser, report the rendered events and the session id as soon as it shows, keep the text
//! transcript, and turn the parser's completion into the step's report.

use std::process::ExitStatus;

use tokio::sync::mpsc;

use super::super::super::budget::{Spent, StepMeter, Tracker};
use super::super::super::error::RunError;
use super::super::super::files::write_private;
use super::super::super::outcome::{End, ErrorClass, Failure};
use super::super::super::process::headless::{self, HeadlessJob};
use super::super::super::run::{Event, Report, StepCtx};
use super::super::output;
use super::super::shell::{insert_status, store_capture};
use super::super::timeouts;
use super::plan::Plan;
use super::record;
use super::start::Launch;
use crate::agents::render::{self, RenderOptions};
use crate::agents::{
    self, AgentEvent, CommandSpec, Completion, EnvLayers, ExitInfo, Invocation, RunningUsage,
    SessionRequest, StreamParser, framing,
};
use crate::state::{CaptureValue, OutputRepair};
use crate::workflow::AgentStep;

/// Runs the CLI to its end and reports how the step went. A step with `output:` whose answer is
/// not the JSON value it asked for gets one repair turn in the same session (control.md §7).
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
    let mut session_id = plan.known_id.clone();
    let first = cli_turn(
        cx,
        step,
        plan,
        &invocation,
        &spec,
        &env,
        &stem,
        &mut session_id,
    );
    let mut done = match first.await? {
        Ok(done) => done,
        Err(report) => return Ok(report),
    };
    let mut answer = None;
    if let Some(output) = &step.output
        && done.completion.failure.is_none()
    {
        let mut checked = output::from_completion(&done.completion, output);
        if let (Err(invalid), Some(id)) = (&checked, session_id.clone())
            && plan.adapter.capabilities().resume_headless
        {
            cx.emit(Event::Detail(format!(
                "the answer does not match the output schema; asking again in the same session: {}",
                invalid.describe()
            )))?;
            cx.emit(Event::OutputRepair {
                path: cx.at.audit_path.to_owned(),
                record: OutputRepair {
                    errors: invalid.errors(),
                },
            })?;
            let repair = Invocation {
                session: SessionRequest::Resume { id },
                prompt: framing::output_repair(&invalid.describe()),
                ..invocation.clone()
            };
            let repair_spec = match plan.adapter.build(&repair) {
                Ok(spec) => spec,
                Err(err) => return Ok(Report::failed(err.to_failure().into())),
            };
            let repair_stem = format!("{stem}-repair");
            let second = cli_turn(
                cx,
                step,
                plan,
                &repair,
                &repair_spec,
                &env,
                &repair_stem,
                &mut session_id,
            );
            let second = match second.await? {
                Ok(second) => second,
                Err(report) => return Ok(report),
            };
            done = done.then(second);
            if done.completion.failure.is_none() {
                checked = output::from_completion(&done.completion, output);
            }
        }
        answer = Some(checked);
    }
    let Done {
        completion,
        status,
        stderr_tail,
        outputs,
        tokens,
        over_budget,
    } = done;
    let mut report = record::completion_report(cx, step, plan, &completion, &stderr_tail, tokens)?;
    if let Some(why) = over_budget {
        // The agent ended on its own after its last report crossed a budget.
        report.end = End::Failed(Failure::new(ErrorClass::Budget, why));
    }
    if let Some(answer) = answer
        && matches!(report.end, End::Success)
    {
        let stored = match answer {
            Ok(value) => match &step.capture {
                Some(name) => {
                    store_capture(cx, name, CaptureValue::Json(value), &mut report.record)
                }
                None => Ok(()),
            },
            Err(invalid) => Err(invalid.failure("the final answer")),
        };
        if let Err(failure) = stored {
            report.end = End::Failed(failure);
        }
    }
    insert_status(&mut report.record, status);
    report.record.outputs = Some(outputs);
    record::keep_session(cx, step, plan, session_id, report)
}

/// One CLI run that ended with an exit status.
struct Done {
    completion: Completion,
    status: ExitStatus,
    stderr_tail: String,
    outputs: Vec<String>,
    /// The tokens a budget counts (control.md §5).
    tokens: u64,
    /// The budget its last usage report crossed, if any.
    over_budget: Option<String>,
}

impl Done {
    /// The first turn followed by its repair turn: the repair's answer and end, both turns'
    /// usage, cost and output files.
    fn then(self, repair: Done) -> Done {
        let (first, second) = (self.completion, repair.completion);
        let usage = match (first.usage, second.usage) {
            (None, None) => None,
            (a, b) => {
                let mut sum = a.unwrap_or_default();
                sum.add(&b.unwrap_or_default());
                Some(sum)
            }
        };
        let sum = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        let mut outputs = self.outputs;
        outputs.extend(repair.outputs);
        Done {
            completion: Completion {
                session_id: second.session_id.or(first.session_id),
                usage,
                cost_usd: sum(first.cost_usd, second.cost_usd),
                num_turns: match (first.num_turns, second.num_turns) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
                },
                ..second
            },
            status: repair.status,
            stderr_tail: repair.stderr_tail,
            outputs,
            tokens: self.tokens + repair.tokens,
            over_budget: self.over_budget.or(repair.over_budget),
        }
    }
}

/// Runs the CLI once with `inv` (output files named `<stem>.*`): `Ok(Done)` when it exited,
/// `Err(report)` when the step ends here (not installed, interrupted, a limit reached).
#[expect(clippy::too_many_arguments, reason = "one turn's inputs, all distinct")]
async fn cli_turn(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
    invocation: &Invocation,
    spec: &CommandSpec,
    env: &EnvLayers,
    stem: &str,
    session_id: &mut Option<String>,
) -> Result<Result<Done, Report>, RunError> {
    let output_dir = cx.output_dir();
    let (mut limits, mut notices) =
        timeouts::limits(cx, Some((&plan.resolved.cli, plan.resolved.limits)));
    let (program, args, child_env, launched) = match &plan.target {
        // Through a launcher: the agent's own variables are sent on the client's stdin; the
        // client gets the runner's environment.
        Some(target) => {
            let remote_env = agents::child_env(std::iter::empty(), spec, env);
            match target.command(&invocation.workdir, &remote_env, &spec.argv()) {
                Ok(local) => {
                    let mut words = local.argv.into_iter();
                    let program = words.next().unwrap_or_default();
                    let env = std::env::vars().collect();
                    (program, words.collect(), env, Some(local.stdin))
                }
                Err(failure) => return Ok(Err(Report::failed(failure))),
            }
        }
        None => (
            spec.program.clone(),
            spec.args.clone(),
            agents::child_env(std::env::vars(), spec, env),
            None,
        ),
    };
    let tracker = cx.budget();
    let meter = tracker.begin_step(cx.at.audit_path, cx.at.step.budget());
    limits.halt = Some(meter.halt.clone());
    let job = HeadlessJob {
        program,
        args,
        env: child_env,
        workdir: invocation.workdir.clone(),
        stream_file: output_dir.join(format!("{stem}.stream.jsonl")),
        stderr_file: output_dir.join(format!("{stem}.stderr")),
        limits,
        launched,
    };
    let text_path = output_dir.join(format!("{stem}.txt"));
    let mut text_file = String::new();
    let mut parser = plan.adapter.parser(invocation);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let process = headless::run(job, tx, cx.interrupts());
    tokio::pin!(process);
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
            Some(line) = rx.recv() => handle(cx, line, session_id, &mut text_file)?,
            Some(expired) = notices.recv() => timeouts::announce(cx, expired, "the agent"),
            end = &mut process => {
                while let Ok(line) = rx.try_recv() {
                    handle(cx, line, session_id, &mut text_file)?;
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
    if end
        .as_ref()
        .map_or(true, |e| e.halted.is_none() && e.status.is_none())
    {
        // Not installed, interrupted or timed out: what the stream reported still counts.
        let so_far = parser.running().map(spent).unwrap_or_default();
        commit(cx, &tracker, &meter, so_far);
    }
    let end = match end {
        Ok(end) => end,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut report = Report::failed(plan.adapter.not_installed().into());
            report.record.outputs = Some(outputs);
            return Ok(Err(report));
        }
        Err(err) => {
            let message = format!("cannot run {}: {err}", invocation.binary);
            return Ok(Err(Report::failed(Failure::new(
                ErrorClass::Internal,
                message,
            ))));
        }
    };
    if let Some(why) = end.halted {
        // What the agent reported before it was stopped still counts: its running figure
        // when it was stopped before its final report.
        let completion = parser.finish(&ExitInfo::default());
        let used = match completion.usage {
            Some(_) => used(&*parser, &completion),
            None => parser.running().map(spent).unwrap_or_default(),
        };
        commit(cx, &tracker, &meter, used);
        let mut report = record::completion_report(cx, step, plan, &completion, "", used.tokens)?;
        report.end = End::Failed(Failure::new(ErrorClass::Budget, why));
        report.record.outputs = Some(outputs);
        return record::keep_session(cx, step, plan, session_id.clone(), report).map(Err);
    }
    if let Some(expired) = end.timed_out {
        // The session id seen before the limit is already in state: a resume continues it.
        let mut report = timeouts::timed_out(cx, expired);
        report.record.outputs = Some(outputs);
        return record::keep_session(cx, step, plan, session_id.clone(), report).map(Err);
    }
    let Some(status) = end.status else {
        let mut report = Report::new(End::Interrupted);
        report.record.outputs = Some(outputs);
        return Ok(Err(report));
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
    if let Some(id) = &completion.session_id {
        tracker.session_reported(id, &completion.models, completion.cost_usd);
    }
    if let Some(id) = &completion.session_id
        && session_id.as_deref() != Some(id)
    {
        record::session_seen(cx, plan, session_id, id)?;
    }
    Ok(Ok(Done {
        completion,
        status,
        stderr_tail: end.stderr_tail,
        outputs,
        tokens: used.tokens,
        over_budget: meter.halt.reason(),
    }))
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
