//! A shell or agent step under `--simulate` (control.md §10): nothing is spawned; the step's
//! stub ([`super::super::simulate`]) says what it printed, its exit code and error class. The
//! rest of the step's life is real: its heading and events, its capture (a JSON value checked
//! against the step's schema when it has `output:`), and how it ends.

use serde_json::Value;

use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::run::{Event, Report, StepCtx};
use super::super::simulate::{Answer, Stubs, minimal_value};
use super::agent::settings::Layers;
use super::shell::store_capture;
use crate::state::{CaptureValue, StepStart};
use crate::workflow::output::OutputSpec;
use crate::workflow::{AgentStep, StepKind};

/// Longest stub output shown in the step's detail line.
const SHOWN: usize = 80;

/// Answers the step of `cx` from `stubs`.
pub async fn run(cx: &mut StepCtx<'_, '_>, stubs: &Stubs) -> Result<Report, RunError> {
    let step = cx.at.step;
    let (label, output, capture) = match &step.kind {
        StepKind::Shell(shell) => (
            super::super::labels::kind_label(step),
            shell.output.as_ref(),
            shell.capture.as_ref().map(|c| c.name.as_str()),
        ),
        StepKind::Agent(agent) => (
            agent_label(cx, agent),
            agent.output.as_ref(),
            agent.capture.as_deref(),
        ),
        _ => {
            return Ok(Report::failed(Failure::new(
                ErrorClass::Internal,
                "only shell and agent steps are stubbed",
            )));
        }
    };
    cx.start(&label, StepStart::default())?;
    let attempt = cx.frame().map_or(1, |frame| frame.attempt.max(1));
    let answer = stubs
        .step(cx.at.audit_path, &step.id, attempt)
        .cloned()
        .unwrap_or_default();
    let code = answer
        .exit_code
        .unwrap_or(if answer.class.is_some() { 1 } else { 0 });
    let value = stub_value(&answer, output);
    let shown = match &value {
        Ok(value) => value.text().into_owned(),
        Err(_) => String::new(),
    };
    let shown = cx.redactor().redact(first_line(&shown)).into_owned();
    cx.emit(Event::Detail(format!(
        "stub: exit {code}, output {shown:?}"
    )))?;
    let mut report = if code == 0 && answer.class.is_none() {
        Report::new(End::Success)
    } else {
        Report::failed(Failure::new(
            answer.class.unwrap_or(ErrorClass::ExitStatus),
            format!("exit status {code} (stub)"),
        ))
    };
    if matches!(step.kind, StepKind::Shell(_)) {
        report.record.exit_code = Some(Some(i64::from(code)));
    }
    match value {
        Ok(value) => {
            if let Some(name) = capture
                && let Err(failure) = store_capture(cx, name, value, &mut report.record)
            {
                report.end = End::Failed(failure);
            }
        }
        Err(failure) if matches!(report.end, End::Success) => report.end = End::Failed(failure),
        Err(_) => {}
    }
    Ok(report)
}

/// The step's output: the stub's text, or for a step with `output:` its JSON value (the stub's
/// value, else the minimal value of the schema), checked as a real answer would be.
fn stub_value(answer: &Answer, output: Option<&OutputSpec>) -> Result<CaptureValue, Failure> {
    let Some(spec) = output else {
        return Ok(CaptureValue::Text(match &answer.value {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => "ok".to_owned(),
        }));
    };
    let value = match &answer.value {
        Some(Value::String(text)) => serde_json::from_str(text.trim())
            .map_err(|err| super::output::Invalid::NotJson(err.to_string()).failure("the stub"))?,
        Some(other) => other.clone(),
        None => match &spec.schema {
            Some(schema) => minimal_value(schema.value()),
            None => Value::String("ok".to_owned()),
        },
    };
    super::output::check(spec, value)
        .map(CaptureValue::Json)
        .map_err(|invalid| invalid.failure("the stub"))
}

/// The agent step's heading label, with the CLI and model its settings resolve to.
fn agent_label(cx: &StepCtx<'_, '_>, agent: &AgentStep) -> String {
    let workflow = cx.at.ctx.workflow.clone();
    let config = cx.config();
    let layers = Layers {
        step: agent,
        workflow: &workflow,
        config: &config,
        decl: workflow.session_decl(&agent.session),
        recorded: None,
    };
    match layers.resolve(&mut |t| cx.render(t).map_err(|f| f.message)) {
        Ok(resolved) => {
            super::super::labels::agent_label(agent, &resolved.cli, resolved.model.as_deref())
        }
        Err(_) => super::super::labels::kind_label(cx.at.step),
    }
}

/// The first line of `text`, cut to [`SHOWN`] characters.
fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(SHOWN) {
        Some((end, _)) => &line[..end],
        None => line,
    }
}
