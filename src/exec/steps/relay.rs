//! Interactive steps (agent and shell) through the terminal relay of the [`crate::pty`] module.
//!
//! The relay is blocking (it owns the terminal and copies bytes on its own threads), so it runs
//! on a blocking task while this side keeps doing the runtime's work: signals from outside
//! are passed to the relay's interrupt handle, and for CLIs whose session id cannot be chosen in
//! advance (codex) the id is discovered about once a second and recorded as soon as it is found.
//! A `timeout` (control.md §2) and a halted branch stop the relay as an interruption would;
//! nothing is printed while the relay owns the terminal, so a timeout is announced once it has
//! given the terminal back.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::process::limits::{Expired, LimitKind};
use super::super::process::sleep_until;
use super::super::run::{Event, Report, StepCtx};
use super::super::signals::Halt;
use super::agent::plan::Plan;
use super::timeouts;
use crate::agents::{self, Adapter, DiscoveryContext, EnvLayers, Invocation};
use crate::pty::{
    self, CompletionSource, RelayEnd, RelayError, RelayInterrupt, RelaySpec, Triggers,
};
use crate::state::{Control, ControlAction, SessionHow, SessionRecord};
use crate::workflow::duration::StepLimits;

const HINT: &str =
    "type /continue and Enter (or press Ctrl-]) when this step is done; /abort stops the run";

/// An interactive shell step: the relay without triggers; the exit status decides.
pub async fn run_shell(
    cx: &mut StepCtx<'_, '_>,
    seq: u64,
    command: &str,
    workdir: PathBuf,
    env: Vec<(String, String)>,
    launched: Option<Vec<String>>,
) -> Result<Report, RunError> {
    let stem = super::super::display::output_stem(seq, cx.at.audit_path);
    let mut spec = base_spec(cx, &stem);
    match launched {
        // Through a launcher: the step's environment was staged on the other side.
        Some(argv) => launched_program(&mut spec, argv),
        None => {
            spec.program = cx.settings().shell.clone().into();
            spec.args = vec!["-c".into(), command.into()];
            spec.env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        }
    }
    spec.cwd = Some(workdir);
    spec.idle_hint = false;
    let wall = wall_limit(cx, None);
    let (result, _, expired) = relay(cx, spec, None, wall).await?;
    finish(cx, result, &stem, Step::Shell, |err| {
        Failure::new(err.class(), err.to_string())
    })
    .map(|report| timed_out_or(cx, expired, "the command", report))
}

/// An interactive agent step; returns the report and the session id (pre-assigned or discovered).
pub async fn run_agent(
    cx: &mut StepCtx<'_, '_>,
    plan: &Plan,
    invocation: &Invocation,
    spec: agents::CommandSpec,
    layers: &mut EnvLayers,
    stem: &str,
) -> Result<(Report, Option<String>), RunError> {
    let adapter = plan.adapter;
    let known = plan.known_id.clone();
    let token = match pty::new_token() {
        Ok(token) => token,
        Err(err) => return Err(RunError::ControlToken(err)),
    };
    let mut relay_spec = base_spec(cx, stem);
    match &plan.target {
        // Through a launcher: the agent's variables are staged on the other side, and the
        // remote terminal is the relay's.
        Some(target) => {
            let remote_env = agents::child_env(std::iter::empty(), &spec, layers);
            let argv = spec.argv();
            match target
                .interactive(cx, &invocation.workdir, &remote_env, &argv)
                .await
            {
                Ok(Some(local)) => launched_program(&mut relay_spec, local),
                Ok(None) => return Ok((Report::new(End::Interrupted), None)),
                Err(failure) => return Ok((Report::failed(failure), None)),
            }
        }
        None => {
            let env = agents::child_env(std::env::vars(), &spec, layers);
            relay_spec.program = spec.program.clone().into();
            relay_spec.args = spec.args.iter().map(OsString::from).collect();
            relay_spec.env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
            relay_spec.env_remove = vec!["AR_*".into()];
        }
    }
    relay_spec.cwd = Some(invocation.workdir.clone());
    relay_spec.triggers = Some(Triggers {
        token,
        control_socket: pty::control_socket_path(cx.run_dir()),
    });
    cx.emit(Event::Detail(HINT.to_owned()))?;
    let discover = known
        .is_none()
        .then(|| (adapter, invocation.workdir.clone()));
    let wall = wall_limit(cx, Some((adapter.name(), plan.resolved.limits)));
    let (result, discovered, expired) = relay(cx, relay_spec, discover, wall).await?;
    let session_id = known.or(discovered);
    let report = finish(cx, result, stem, Step::Agent, |err| match err {
        RelayError::ProgramNotFound { .. } => adapter.not_installed().into(),
        other => Failure::new(other.class(), other.to_string()),
    })?;
    Ok((timed_out_or(cx, expired, "the agent", report), session_id))
}

/// The wall-clock limit of an interactive step (`idle_timeout` does not apply: a person is
/// present).
fn wall_limit(cx: &StepCtx<'_, '_>, agent: Option<(&str, StepLimits)>) -> Option<Duration> {
    timeouts::limits(cx, agent).0.wall
}

/// The step's report, or its timeout failure when `expired` stopped it (whatever the relay saw
/// meanwhile: a timeout is never a success). Announced here, the terminal being the console's
/// again.
fn timed_out_or(
    cx: &mut StepCtx<'_, '_>,
    expired: Option<Expired>,
    what: &str,
    report: Report,
) -> Report {
    let Some(expired) = expired else {
        return report;
    };
    timeouts::announce(cx, expired, what);
    let mut timed_out = timeouts::timed_out(cx, expired);
    timed_out.record.transcript = report.record.transcript;
    timed_out.record.outputs = report.record.outputs;
    timed_out
}

/// Runs a launcher's client (its complete argv) in the relay instead of the step's program.
fn launched_program(spec: &mut RelaySpec, argv: Vec<String>) {
    let mut words = argv.into_iter().map(OsString::from);
    spec.program = words.next().unwrap_or_default();
    spec.args = words.collect();
}

/// A relay spec with the run's settings: idle hint, grace, transcript and its redaction.
fn base_spec(cx: &StepCtx<'_, '_>, stem: &str) -> RelaySpec {
    let config = cx.config();
    let mut spec = RelaySpec::new(cx.at.audit_path, "");
    spec.idle_hint = config.idle_hint.unwrap_or(true);
    spec.idle_hint_after = config.idle_hint_after.unwrap_or(Duration::from_secs(3));
    spec.stop_grace = config.stop_grace.unwrap_or(Duration::from_secs(3));
    spec.transcript_path = Some(cx.output_dir().join(format!("{stem}.transcript.txt")));
    let redactor = Arc::clone(cx.redactor());
    spec.redact = Some(Box::new(move |text: &str| {
        redactor.redact(text).into_owned()
    }));
    spec
}

/// How the relay went: its outcome, the session id discovered, and the limit that stopped it.
type Relayed = (
    Result<pty::RelayOutcome, RelayError>,
    Option<String>,
    Option<Expired>,
);

/// Runs the relay on a blocking thread while passing on signals (and a halt of the step's
/// branch), stopping it at the `wall` limit, and discovering the session.
async fn relay(
    cx: &mut StepCtx<'_, '_>,
    mut spec: RelaySpec,
    discover: Option<(&'static dyn Adapter, PathBuf)>,
    wall: Option<Duration>,
) -> Result<Relayed, RunError> {
    let interrupt = RelayInterrupt::new();
    spec.interrupt = interrupt.clone();
    let spawned_at = SystemTime::now();
    tracing::debug!(program = ?spec.program, args = ?spec.args, "starting the terminal relay");
    let mut task = tokio::task::spawn_blocking(move || pty::run_relay(spec));
    let mut passed_on = 0;
    let mut discovered: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut interrupts = cx.interrupts();
    let mut halt = interrupts.halt().cloned();
    let deadline = wall.map(|limit| (tokio::time::Instant::now() + limit, limit));
    let mut expired = None;
    let result = loop {
        tokio::select! {
            joined = &mut task => break joined.map_err(RunError::RelayTask)?,
            () = interrupts.next_after(passed_on) => {
                while passed_on < interrupts.count() {
                    interrupt.interrupt();
                    passed_on += 1;
                }
            }
            () = sleep_until(deadline.map(|(at, _)| at)), if expired.is_none() => {
                expired = deadline.map(|(_, limit)| Expired { kind: LimitKind::Wall, limit });
                interrupt.interrupt();
            }
            () = halted(&mut halt) => {
                halt = None;
                interrupt.interrupt();
            }
            _ = tick.tick(), if discover.is_some() && discovered.is_none() => {
                if let Some((adapter, workdir)) = &discover
                    && let Some(id) = discover_once(*adapter, workdir, spawned_at)
                {
                    record_discovered(cx, adapter.name(), &id)?;
                    discovered = Some(id);
                }
            }
        }
    };
    if let (Some((adapter, workdir)), None) = (&discover, &discovered)
        && let Some(id) = discover_once(*adapter, workdir, spawned_at)
    {
        record_discovered(cx, adapter.name(), &id)?;
        discovered = Some(id);
    }
    Ok((result, discovered, expired))
}

/// Resolves when `halt` is triggered; never without one.
async fn halted(halt: &mut Option<Halt>) {
    match halt {
        Some(halt) => halt.wait().await,
        None => std::future::pending().await,
    }
}

fn discover_once(
    adapter: &dyn Adapter,
    workdir: &std::path::Path,
    spawned_at: SystemTime,
) -> Option<String> {
    let ctx = DiscoveryContext {
        workdir: workdir.to_path_buf(),
        spawned_at,
        now: SystemTime::now(),
    };
    adapter
        .discover_session(&ctx, &agents::process_env)?
        .session_id
}

fn record_discovered(cx: &mut StepCtx<'_, '_>, cli: &str, id: &str) -> Result<(), RunError> {
    cx.emit(Event::SessionSeen {
        step: cx.step_ref(),
        record: SessionRecord::new(cli, id, SessionHow::Discovered),
        save: true,
    })
}

/// Which kind of interactive step the relay ran.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Agent,
    /// No triggers: the exit status alone decides, and no `control` event is written
    /// (interactive.md §10).
    Shell,
}

/// The step's report from how the relay ended.
fn finish(
    cx: &mut StepCtx<'_, '_>,
    result: Result<pty::RelayOutcome, RelayError>,
    stem: &str,
    step: Step,
    on_error: impl Fn(&RelayError) -> Failure,
) -> Result<Report, RunError> {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => return Ok(Report::failed(on_error(&err))),
    };
    for warning in &outcome.warnings {
        cx.warn("relay", warning);
    }
    let control = |cx: &mut StepCtx<'_, '_>, action, source: &str, note: Option<String>| {
        if step == Step::Shell {
            return Ok(());
        }
        let record = Control {
            action: Some(action),
            source: Some(source.to_owned()),
            note,
        };
        cx.emit(Event::Control {
            path: cx.at.audit_path.to_owned(),
            record,
        })
    };
    let mut report = match outcome.end {
        RelayEnd::Completed { source, note } => {
            control(cx, ControlAction::Continue, source_name(source), note)?;
            Report::new(End::Success)
        }
        RelayEnd::Aborted => {
            control(cx, ControlAction::Abort, "user_command", None)?;
            cx.abort();
            Report::new(End::Interrupted)
        }
        RelayEnd::Interrupted => Report::new(End::Interrupted),
        RelayEnd::Exited { code } => Report::failed(Failure::new(
            ErrorClass::ExitStatus,
            format!("exit status {code}"),
        )),
        RelayEnd::Signaled { name } => Report::failed(Failure::new(
            ErrorClass::Signal,
            format!("killed by signal {name}"),
        )),
    };
    let transcript = format!("output/{stem}.transcript.txt");
    report.record.transcript = Some(transcript.clone());
    report.record.outputs = Some(vec![transcript]);
    Ok(report)
}

fn source_name(source: CompletionSource) -> &'static str {
    match source {
        CompletionSource::UserCommand => "user_command",
        CompletionSource::CtrlBracket => "ctrl_bracket",
        CompletionSource::AgentCommand => "agent_command",
        CompletionSource::Sentinel => "sentinel",
        CompletionSource::AgentExit => "agent_exit",
    }
}
