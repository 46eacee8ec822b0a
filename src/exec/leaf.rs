//! Shell steps and `skip_if: sh:` conditions: rendering, workdir, environment, and the result.

use std::path::PathBuf;
use std::process::ExitStatus;

use crate::state::AuditEvent;
use serde_json::{Map, Value, json};

use super::context::ListCtx;
use super::dispatcher::{Dispatcher, Fatal};
use super::display::output_stem;
use super::outcome::{End, ErrorClass, Failure};
use super::shell::{self, CAPTURE_LIMIT, CaptureMode, ShellJob};
use super::step::{At, Report};
use crate::workflow::{ShellStep, Step, Template};

/// Largest `skip_if` output kept in the audit log.
const SKIP_OUTPUT_LIMIT: usize = 4096;

pub async fn run_shell(d: &mut Dispatcher, at: &At<'_>, spec: &ShellStep) -> Result<Report, Fatal> {
    let label = if spec.interactive {
        "interactive shell"
    } else {
        "shell"
    };
    let command = d.render(at.ctx, &at.step.id, &spec.command);
    let workdir = resolve_workdir(d, at.ctx, at.step, spec.workdir.as_ref());
    let mut start = Map::new();
    start.insert(
        "command".into(),
        json!(command.as_deref().unwrap_or(spec.command.text())),
    );
    start.insert(
        "workdir".into(),
        json!(workdir.as_ref().map(|w| w.display().to_string()).ok()),
    );
    let seq = d.begin(at, label, start)?;
    let (command, workdir) = match (command, workdir) {
        (Ok(command), Ok(workdir)) => (command, workdir),
        (Err(failure), _) | (_, Err(failure)) => return Ok(Report::failed(failure)),
    };
    // Continuation lines of a multi-line command line up under the first.
    let shown = d
        .redactor
        .redact(command.trim_end())
        .replace('\n', "\n           ");
    d.console.detail(&format!("command: {shown}"));
    let env = match step_env(d, at, &spec.env, true) {
        Ok(env) => env,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    if spec.interactive {
        return super::interactive::run_shell_relay(d, at, seq, &command, workdir, env).await;
    }
    let stem = output_stem(seq, at.audit_path);
    let output_dir = d.run_dir.output_dir();
    let files = (
        output_dir.join(format!("{stem}.stdout")),
        output_dir.join(format!("{stem}.stderr")),
    );
    let job = ShellJob {
        shell: d.settings.shell.clone(),
        script: command,
        workdir,
        env,
        env_remove: Vec::new(),
        capture: spec.capture.as_ref().map(|c| {
            if c.stderr {
                CaptureMode::StdoutAndStderr
            } else {
                CaptureMode::Stdout
            }
        }),
        output_files: Some(files),
        // `--quiet` hides the runner's own lines, never what the step prints.
        echo: true,
    };
    crate::console::spinner::step_started();
    let outcome = shell::run(job, d.interrupts.clone()).await;
    crate::console::spinner::step_ended();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            return Ok(Report::failed(Failure::new(
                ErrorClass::Internal,
                err.to_string(),
            )));
        }
    };
    let mut report = match outcome.status {
        None => Report::new(End::Interrupted),
        Some(status) => Report::new(status_end(status)),
    };
    report.data.insert(
        "outputs".into(),
        json!([
            format!("output/{stem}.stdout"),
            format!("output/{stem}.stderr")
        ]),
    );
    if let Some(status) = outcome.status {
        insert_status(&mut report.data, status);
    }
    if let Some(capture) = &spec.capture
        && outcome.status.is_some()
    {
        let value = captured_value(
            &outcome.stdout,
            capture.stderr.then_some(outcome.stderr.as_slice()),
        );
        if let Err(failure) = store_capture(d, at, &capture.name, value, &mut report.data) {
            report.end = End::Failed(failure);
        }
    }
    Ok(report)
}

/// Runs a `skip_if: sh:` command: `Ok((exit code, output))`, or the failure when it cannot run.
pub async fn run_condition(
    d: &mut Dispatcher,
    at: &At<'_>,
    command: &str,
) -> Result<Result<(i32, String), Failure>, Fatal> {
    let workdir = match resolve_workdir(d, at.ctx, at.step, step_workdir(at.step)) {
        Ok(workdir) => workdir,
        Err(failure) => return Ok(Err(failure)),
    };
    let env = match step_env(d, at, &[], true) {
        Ok(env) => env,
        Err(failure) => return Ok(Err(failure)),
    };
    let job = ShellJob {
        shell: d.settings.shell.clone(),
        script: command.to_owned(),
        workdir,
        env,
        env_remove: Vec::new(),
        capture: Some(CaptureMode::StdoutAndStderr),
        output_files: None,
        echo: false,
    };
    match shell::run(job, d.interrupts.clone()).await {
        Err(err) => Ok(Err(Failure::new(
            ErrorClass::Internal,
            format!("cannot run skip_if command: {err}"),
        ))),
        Ok(outcome) => {
            let Some(status) = outcome.status else {
                return Ok(Err(Failure::new(ErrorClass::Interrupted, "interrupted")));
            };
            let mut output = outcome.stdout;
            output.extend_from_slice(&outcome.stderr);
            output.truncate(SKIP_OUTPUT_LIMIT);
            Ok(Ok((
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output).into_owned(),
            )))
        }
    }
}

fn step_workdir(step: &Step) -> Option<&Template> {
    match &step.kind {
        crate::workflow::StepKind::Shell(s) => s.workdir.as_ref(),
        crate::workflow::StepKind::Agent(a) => a.workdir.as_ref(),
        _ => None,
    }
}

/// The step's working directory: the project dir, or `workdir` relative to it. It must exist.
pub fn resolve_workdir(
    d: &mut Dispatcher,
    ctx: &ListCtx,
    step: &Step,
    workdir: Option<&Template>,
) -> Result<PathBuf, Failure> {
    let project = d.settings.project_dir.clone();
    let Some(template) = workdir else {
        return Ok(project);
    };
    let rendered = d.render(ctx, &step.id, template)?;
    let path = project.join(&rendered);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(Failure::new(
            ErrorClass::Workdir,
            format!(
                "workdir \"{rendered}\" does not exist (relative to {})",
                project.display()
            ),
        ))
    }
}

/// The environment added for a shell or agent process: workflow `env` < step `env` < `AR_*`
/// (shell only) < the runner's own variables.
pub fn step_env(
    d: &mut Dispatcher,
    at: &At<'_>,
    step_env: &[(String, Template)],
    shell: bool,
) -> Result<Vec<(String, String)>, Failure> {
    let mut env = Vec::new();
    for (name, template) in at.ctx.workflow.env.iter().chain(step_env) {
        env.push((name.clone(), d.render(at.ctx, &at.step.id, template)?));
    }
    if shell {
        let vars = d.vars(at.ctx, &at.step.id);
        let (exports, too_big) = crate::interpolate::export_env(&vars);
        env.extend(exports);
        for name in too_big {
            let message = format!(
                "variable \"{name}\" is larger than 64 KiB and is not exported as AR_{}",
                name.to_uppercase()
            );
            let _ = d.audit(
                AuditEvent::Warning,
                at.audit_path,
                json!({"code": "env_too_large", "message": message}),
            );
        }
    }
    env.push(("AGENT_RUNNER_RUN_ID".into(), d.doc.run_id.clone()));
    env.push((
        "AGENT_RUNNER_RUN_DIR".into(),
        d.run_dir.path().display().to_string(),
    ));
    env.push(("AGENT_RUNNER_STEP".into(), at.audit_path.to_owned()));
    Ok(env)
}

/// Success for exit 0; otherwise `exit status <n>` or `killed by signal <NAME>`.
pub fn status_end(status: ExitStatus) -> End {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return End::Success;
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => End::Failed(Failure::new(
            ErrorClass::ExitStatus,
            format!("exit status {code}"),
        )),
        (None, Some(signal)) => End::Failed(Failure::new(
            ErrorClass::Signal,
            format!(
                "killed by signal {}",
                crate::console::format::signal_name(signal)
            ),
        )),
        (None, None) => End::Failed(Failure::new(ErrorClass::ExitStatus, "exit status unknown")),
    }
}

pub fn insert_status(data: &mut Map<String, Value>, status: ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    data.insert("exit_code".into(), json!(status.code()));
    data.insert(
        "signal".into(),
        json!(status.signal().map(crate::console::format::signal_name)),
    );
}

/// stdout trimmed, plus `--- stderr ---` and the trimmed stderr when that is wanted and not empty.
fn captured_value(stdout: &[u8], stderr: Option<&[u8]>) -> String {
    let mut value = String::from_utf8_lossy(stdout).trim().to_owned();
    if let Some(stderr) = stderr {
        let stderr = String::from_utf8_lossy(stderr);
        let stderr = stderr.trim();
        if !stderr.is_empty() {
            if !value.is_empty() {
                value.push('\n');
            }
            value.push_str("--- stderr ---\n");
            value.push_str(stderr);
        }
    }
    value
}

/// Stores a captured value in the step's scope, unless it is over the limit.
pub fn store_capture(
    d: &mut Dispatcher,
    at: &At<'_>,
    name: &str,
    value: String,
    data: &mut Map<String, Value>,
) -> Result<(), Failure> {
    if value.len() > CAPTURE_LIMIT {
        let why = format!(
            "step \"{}\" ran, but its output was larger than the 1 MiB capture limit",
            at.step.id
        );
        d.scope(at.ctx.scope)
            .capture_errors
            .insert(name.to_owned(), why);
        return Err(Failure::new(
            ErrorClass::CaptureTooLarge,
            format!(
                "captured output of step \"{}\" is larger than 1 MiB; write it to a file (for example under {{{{session_dir}}}}) and capture the path instead",
                at.step.id
            ),
        ));
    }
    d.scope(at.ctx.scope).capture_errors.remove(name);
    data.insert(
        "capture".into(),
        json!({"name": name, "bytes": value.len()}),
    );
    d.scope(at.ctx.scope)
        .captures
        .insert(name.to_owned(), value);
    Ok(())
}

/// The failure of a template that uses capture `name`, which has no value because of `why`.
pub fn unset_capture(name: &str, why: &str) -> Failure {
    Failure::new(
        ErrorClass::UndefinedVariable,
        format!("variable \"{name}\" has no value here: {why}"),
    )
}
