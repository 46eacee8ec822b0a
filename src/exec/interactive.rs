//! Interactive steps (agent and shell) through the terminal relay of the [`crate::pty`] module.
//!
//! The relay is blocking (it owns the terminal and copies bytes on its own threads), so it runs
//! on a blocking task while this side keeps doing the dispatcher's work: signals from outside
//! are passed to the relay's interrupt handle, and for CLIs whose session id cannot be chosen in
//! advance (codex) the id is discovered about once a second and recorded as soon as it is found.
//! Nothing is printed while the relay owns the terminal.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::dispatcher::Dispatcher;
use super::error::RunError;
use super::outcome::{End, ErrorClass, Failure};
use super::step::{At, Report};
use crate::agents::{self, Adapter, DiscoveryContext, EnvLayers, Invocation};
use crate::pty::{
    self, CompletionSource, RelayEnd, RelayError, RelayInterrupt, RelaySpec, Triggers,
};
use crate::state::AuditEvent;

const HINT: &str =
    "type /continue and Enter (or press Ctrl-]) when this step is done; /abort stops the run";

/// An interactive shell step: the relay without triggers; the exit status decides.
pub async fn run_shell_relay(
    d: &mut Dispatcher,
    at: &At<'_>,
    seq: u64,
    command: &str,
    workdir: PathBuf,
    env: Vec<(String, String)>,
) -> Result<Report, RunError> {
    let stem = super::display::output_stem(seq, at.audit_path);
    let mut spec = base_spec(d, at, &stem);
    spec.program = d.settings.shell.clone().into();
    spec.args = vec!["-c".into(), command.into()];
    spec.env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    spec.cwd = Some(workdir);
    spec.idle_hint = false;
    let (result, _) = relay(d, at, spec, None).await?;
    Ok(finish(d, at, result, &stem, Step::Shell, |err| {
        Failure::new(class_of(err), err.to_string())
    }))
}

/// An interactive agent step; returns the report and the session id (pre-assigned or discovered).
#[expect(
    clippy::too_many_arguments,
    reason = "the run's pieces an executor needs are passed explicitly, not bundled"
)]
pub async fn run_agent_relay(
    d: &mut Dispatcher,
    at: &At<'_>,
    adapter: &'static dyn Adapter,
    invocation: &Invocation,
    spec: agents::CommandSpec,
    layers: &mut EnvLayers,
    stem: &str,
    known: Option<String>,
) -> Result<(Report, Option<String>), RunError> {
    let token = match pty::new_token() {
        Ok(token) => token,
        Err(err) => return Err(RunError::ControlToken(err)),
    };
    let env = agents::child_env(std::env::vars(), &spec, layers);
    let mut relay_spec = base_spec(d, at, stem);
    relay_spec.program = spec.program.clone().into();
    relay_spec.args = spec.args.iter().map(OsString::from).collect();
    relay_spec.env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    relay_spec.env_remove = vec!["AR_*".into()];
    relay_spec.cwd = Some(invocation.workdir.clone());
    relay_spec.triggers = Some(Triggers {
        token,
        control_socket: pty::control_socket_path(d.run_dir.path()),
    });
    d.console.detail(HINT);
    let discover = known
        .is_none()
        .then(|| (adapter, invocation.workdir.clone()));
    let (result, discovered) = relay(d, at, relay_spec, discover).await?;
    let session_id = known.or(discovered);
    let report = finish(d, at, result, stem, Step::Agent, |err| match err {
        RelayError::ProgramNotFound { .. } => super::agent::convert(adapter.not_installed()),
        other => Failure::new(class_of(other), other.to_string()),
    });
    Ok((report, session_id))
}

/// A relay spec with the run's settings: idle hint, grace, transcript and its redaction.
fn base_spec(d: &Dispatcher, at: &At<'_>, stem: &str) -> RelaySpec {
    let config = d.loader.config();
    let mut spec = RelaySpec::new(at.audit_path, "");
    spec.idle_hint = config.idle_hint.unwrap_or(true);
    spec.idle_hint_after = config.idle_hint_after.unwrap_or(Duration::from_secs(3));
    spec.stop_grace = config.stop_grace.unwrap_or(Duration::from_secs(3));
    spec.transcript_path = Some(
        d.run_dir
            .output_dir()
            .join(format!("{stem}.transcript.txt")),
    );
    let redactor = Arc::clone(&d.redactor);
    spec.redact = Some(Box::new(move |text: &str| {
        redactor.redact(text).into_owned()
    }));
    spec
}

/// Runs the relay on a blocking thread while passing on signals and discovering the session.
async fn relay(
    d: &mut Dispatcher,
    at: &At<'_>,
    mut spec: RelaySpec,
    discover: Option<(&'static dyn Adapter, PathBuf)>,
) -> Result<(Result<pty::RelayOutcome, RelayError>, Option<String>), RunError> {
    let interrupt = RelayInterrupt::new();
    spec.interrupt = interrupt.clone();
    let spawned_at = SystemTime::now();
    tracing::debug!(program = ?spec.program, args = ?spec.args, "starting the terminal relay");
    let mut task = tokio::task::spawn_blocking(move || pty::run_relay(spec));
    let mut passed_on = 0;
    let mut discovered: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut interrupts = d.interrupts.clone();
    let result = loop {
        tokio::select! {
            joined = &mut task => break joined.map_err(RunError::RelayTask)?,
            () = interrupts.next_after(passed_on) => {
                while passed_on < interrupts.count() {
                    interrupt.interrupt();
                    passed_on += 1;
                }
            }
            _ = tick.tick(), if discover.is_some() && discovered.is_none() => {
                if let Some((adapter, workdir)) = &discover
                    && let Some(id) = discover_once(*adapter, workdir, spawned_at)
                {
                    record_discovered(d, at, adapter.name(), &id)?;
                    discovered = Some(id);
                }
            }
        }
    };
    if let (Some((adapter, workdir)), None) = (&discover, &discovered)
        && let Some(id) = discover_once(*adapter, workdir, spawned_at)
    {
        record_discovered(d, at, adapter.name(), &id)?;
        discovered = Some(id);
    }
    Ok((result, discovered))
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

fn record_discovered(d: &mut Dispatcher, at: &At<'_>, cli: &str, id: &str) -> Result<(), RunError> {
    if let Some(agent) = d.frame(at.ctx.depth).agent.as_mut() {
        agent.session_id = Some(id.to_owned());
    }
    d.audit(
        AuditEvent::Session,
        at.audit_path,
        json!({"cli": cli, "session_id": id, "how": "discovered"}),
    )?;
    d.save()
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
    d: &mut Dispatcher,
    at: &At<'_>,
    result: Result<pty::RelayOutcome, RelayError>,
    stem: &str,
    step: Step,
    on_error: impl Fn(&RelayError) -> Failure,
) -> Report {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => return Report::failed(on_error(&err)),
    };
    for warning in &outcome.warnings {
        d.warn(at.audit_path, "relay", warning);
    }
    let control = |d: &mut Dispatcher, action: &str, source: &str, note: Option<&str>| {
        if step == Step::Shell {
            return;
        }
        let _ = d.audit(
            AuditEvent::Control,
            at.audit_path,
            json!({"action": action, "source": source, "note": note}),
        );
    };
    let mut report = match outcome.end {
        RelayEnd::Completed { source, note } => {
            control(d, "continue", source_name(source), note.as_deref());
            Report::new(End::Success)
        }
        RelayEnd::Aborted => {
            control(d, "abort", "user_command", None);
            d.interrupts.abort(&d.signal);
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
    report.data.insert("transcript".into(), json!(transcript));
    report.data.insert("outputs".into(), json!([transcript]));
    report
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

fn class_of(err: &RelayError) -> ErrorClass {
    err.class()
}
