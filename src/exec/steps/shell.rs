//! Shell steps and `skip_if: sh:` conditions: rendering, workdir, environment, and the result.

use std::path::PathBuf;
use std::process::ExitStatus;

use super::super::display::output_stem;
use super::super::error::RunError;
use super::super::launch;
use super::super::outcome::{End, ErrorClass, Failure};
use super::super::process::limits::Limits;
use super::super::process::shell::{self, CAPTURE_LIMIT, CaptureMode, ShellJob};
use super::super::run::{Event, Report, Slot, StepCtx};
use super::timeouts;
use crate::state::{CaptureRecord, CaptureValue, StepEnd, StepStart};
use crate::workflow::{ShellStep, Step, Template};

/// Largest `skip_if` output kept in the audit log.
const SKIP_OUTPUT_LIMIT: usize = 4096;

pub async fn run(cx: &mut StepCtx<'_, '_>, spec: &ShellStep) -> Result<Report, RunError> {
    let label = if spec.interactive {
        "interactive shell"
    } else {
        "shell"
    };
    let command = cx.render(&spec.command);
    let workdir = resolve_workdir(cx, spec.workdir.as_ref());
    let start = StepStart {
        command: Some(command.as_deref().unwrap_or(spec.command.text()).to_owned()),
        workdir: Some(workdir.as_ref().map(|w| w.display().to_string()).ok()),
        ..StepStart::default()
    };
    let seq = if spec.interactive {
        cx.start(label, start)?
    } else {
        cx.start_spawning(label, start)?
    };
    let (command, workdir) = match (command, workdir) {
        (Ok(command), Ok(workdir)) => (command, workdir),
        (Err(failure), _) | (_, Err(failure)) => return Ok(Report::failed(failure)),
    };
    // Continuation lines of a multi-line command line up under the first.
    let shown = cx
        .redactor()
        .redact(command.trim_end())
        .replace('\n', "\n           ");
    cx.emit(Event::Detail(format!("command: {shown}")))?;
    let env = match step_env(cx, &spec.env, true) {
        Ok(env) => env,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    let target = match launch::target(cx, None) {
        Ok(target) => target,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    if target.is_some() {
        // Waiting for a launcher's slot may take long: the step before is reported first.
        cx.emit(Event::Flush)?;
    }
    // A launcher's `max_concurrent` slot, held until the step ends.
    let Some(_slot) = launcher_slot(cx, target.as_ref()).await? else {
        return Ok(Report::new(End::Interrupted));
    };
    let shell_argv = |command: &str| {
        vec![
            cx.settings().shell.clone(),
            "-c".to_owned(),
            command.to_owned(),
        ]
    };
    if spec.interactive {
        let launched = match &target {
            Some(target) => {
                match target
                    .interactive(cx, &workdir, &env, &shell_argv(&command))
                    .await
                {
                    Ok(Some(argv)) => Some(argv),
                    Ok(None) => return Ok(Report::new(End::Interrupted)),
                    Err(failure) => return Ok(Report::failed(failure)),
                }
            }
            None => None,
        };
        return super::relay::run_shell(cx, seq, &command, workdir, env, launched).await;
    }
    let launched = match &target {
        Some(target) => match target.command(&workdir, &env, &shell_argv(&command)) {
            Ok(launched) => Some(launched),
            Err(failure) => return Ok(Report::failed(failure)),
        },
        None => None,
    };
    let stem = output_stem(seq, cx.at.audit_path);
    let output_dir = cx.output_dir();
    let files = (
        output_dir.join(format!("{stem}.stdout")),
        output_dir.join(format!("{stem}.stderr")),
    );
    let (limits, mut notices) = timeouts::limits(cx, None);
    let job = ShellJob {
        shell: cx.settings().shell.clone(),
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
        output_files: Some(files.clone()),
        // `--quiet` hides the runner's own lines, never what the step prints.
        echo: true,
        echo_label: cx
            .branch()
            .label
            .clone()
            .map(|label| (label, cx.branch().colour)),
        limits,
        launched,
    };
    crate::console::spinner::step_started();
    let process = shell::run(job, cx.interrupts());
    tokio::pin!(process);
    // The first poll starts the command; only then is the flush of the step before waited for
    // (start_spawning), before the command's output can be shown.
    let started = super::poll_once(process.as_mut()).await;
    cx.emit(Event::Flush)?;
    let outcome = match started {
        Some(outcome) => outcome,
        None => loop {
            tokio::select! {
                Some(expired) = notices.recv() => timeouts::announce(cx, expired, "the command"),
                outcome = &mut process => break outcome,
            }
        },
    };
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
    let mut report = match (outcome.status, outcome.timed_out) {
        (_, Some(expired)) => timeouts::timed_out(cx, expired),
        (None, None) => Report::new(End::Interrupted),
        (Some(status), None) => Report::new(status_end(status)),
    };
    // Only the streams that printed something have a file.
    report.record.outputs = Some(
        [&files.0, &files.1]
            .into_iter()
            .filter(|path| path.exists())
            .filter_map(|path| path.file_name())
            .map(|name| format!("output/{}", name.to_string_lossy()))
            .collect(),
    );
    if let Some(status) = outcome.status {
        insert_status(&mut report.record, status);
    }
    if outcome.status.is_none() {
        return Ok(report);
    }
    let value = match &spec.output {
        // A failed command keeps its own failure; its output is captured only if it is valid.
        Some(output) => match super::output::from_stdout(&outcome.stdout, output) {
            Ok(value) => Some(CaptureValue::Json(value)),
            Err(invalid) => {
                if matches!(report.end, End::Success) {
                    report.end = End::Failed(invalid.failure("stdout"));
                }
                None
            }
        },
        None => spec.capture.as_ref().map(|capture| {
            CaptureValue::Text(captured_value(
                &outcome.stdout,
                capture.stderr.then_some(outcome.stderr.as_slice()),
            ))
        }),
    };
    if let (Some(capture), Some(value)) = (&spec.capture, value)
        && let Err(failure) = store_capture(cx, &capture.name, value, &mut report.record)
    {
        report.end = End::Failed(failure);
    }
    Ok(report)
}

/// Runs a `skip_if: sh:` command: `Ok((exit code, output))`, or the failure when it cannot run.
pub async fn run_condition(
    cx: &mut StepCtx<'_, '_>,
    command: &str,
) -> Result<(i32, String), Failure> {
    let workdir = resolve_workdir(cx, step_workdir(cx.at.step))?;
    let env = step_env(cx, &[], true)?;
    let job = ShellJob {
        shell: cx.settings().shell.clone(),
        script: command.to_owned(),
        workdir,
        env,
        env_remove: Vec::new(),
        capture: Some(CaptureMode::StdoutAndStderr),
        output_files: None,
        echo: false,
        echo_label: None,
        limits: Limits::default(),
        launched: None,
    };
    match shell::run(job, cx.interrupts()).await {
        Err(err) => Err(Failure::new(
            ErrorClass::Internal,
            format!("cannot run skip_if command: {err}"),
        )),
        Ok(outcome) => {
            let Some(status) = outcome.status else {
                return Err(Failure::new(ErrorClass::Interrupted, "interrupted"));
            };
            let mut output = outcome.stdout;
            output.extend_from_slice(&outcome.stderr);
            output.truncate(SKIP_OUTPUT_LIMIT);
            Ok((
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output).into_owned(),
            ))
        }
    }
}

/// The slot of `target`'s `max_concurrent` (docs/launchers.md), waited for; `Some(None)` when
/// there is no cap, `None` when the run or the branch was stopped while waiting.
pub async fn launcher_slot(
    cx: &mut StepCtx<'_, '_>,
    target: Option<&launch::Target>,
) -> Result<Option<Option<Slot>>, RunError> {
    match target.and_then(|t| t.max_concurrent.map(|cap| (t.key(), cap))) {
        Some((key, cap)) => Ok(cx.launcher_slot(&key, cap).await?.map(Some)),
        None => Ok(Some(None)),
    }
}

fn step_workdir(step: &Step) -> Option<&Template> {
    match &step.kind {
        crate::workflow::StepKind::Shell(s) => s.workdir.as_ref(),
        crate::workflow::StepKind::Agent(a) => a.workdir.as_ref(),
        _ => None,
    }
}

/// The step's working directory: the project dir (in a worktree branch, the worktree's copy of
/// it), or `workdir` relative to that. It must exist.
pub fn resolve_workdir(
    cx: &StepCtx<'_, '_>,
    workdir: Option<&Template>,
) -> Result<PathBuf, Failure> {
    let project = cx.workdir_root();
    let Some(template) = workdir else {
        return Ok(project);
    };
    let rendered = cx.render(template)?;
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
    cx: &mut StepCtx<'_, '_>,
    step_env: &[(String, Template)],
    shell: bool,
) -> Result<Vec<(String, String)>, Failure> {
    let mut env = Vec::new();
    for (name, template) in cx.at.ctx.workflow.env.iter().chain(step_env) {
        env.push((name.clone(), cx.render(template)?));
    }
    if shell {
        let vars = cx.vars();
        let (exports, too_big) = crate::interpolate::export_env(&vars);
        env.extend(exports);
        for name in too_big {
            let message = format!(
                "variable \"{name}\" is larger than 64 KiB and is not exported as AR_{}",
                name.to_uppercase()
            );
            let _ = cx.emit(Event::Warning {
                path: cx.at.audit_path.to_owned(),
                code: "env_too_large".to_owned(),
                message,
                shown: false,
            });
        }
        // Also in sub-workflows called from the branch, which do not see `{{worktree}}`.
        if let Some(worktree) = &cx.branch().worktree {
            env.push(("AR_WORKTREE".into(), worktree.display().to_string()));
        }
    }
    env.extend(runner_env(cx));
    Ok(env)
}

/// The runner's own variables for a step's process: run id, run dir, step path.
pub fn runner_env(cx: &StepCtx<'_, '_>) -> Vec<(String, String)> {
    vec![
        ("AGENT_RUNNER_RUN_ID".into(), cx.run_id().to_owned()),
        (
            "AGENT_RUNNER_RUN_DIR".into(),
            cx.run_dir().display().to_string(),
        ),
        ("AGENT_RUNNER_STEP".into(), cx.at.audit_path.to_owned()),
    ]
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

/// The exit code and signal of a finished process, for its `step_end`.
pub fn insert_status(record: &mut StepEnd, status: ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    record.exit_code = Some(status.code().map(i64::from));
    record.signal = Some(
        status
            .signal()
            .map(|s| crate::console::format::signal_name(s).to_owned()),
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
    cx: &mut StepCtx<'_, '_>,
    name: &str,
    value: CaptureValue,
    record: &mut StepEnd,
) -> Result<(), Failure> {
    let bytes = match &value {
        CaptureValue::Text(text) => text.len(),
        CaptureValue::Json(json) => json.to_string().len(),
    };
    if bytes > CAPTURE_LIMIT {
        let why = format!(
            "step \"{}\" ran, but its output was larger than the 1 MiB capture limit",
            cx.at.step.id
        );
        let refused = Event::CaptureRefused {
            scope: cx.at.ctx.scope,
            name: name.to_owned(),
            why,
        };
        cx.emit(refused)
            .map_err(|err| Failure::new(ErrorClass::Internal, err.to_string()))?;
        return Err(Failure::new(
            ErrorClass::CaptureTooLarge,
            format!(
                "captured output of step \"{}\" is larger than 1 MiB; write it to a file (for example under {{{{session_dir}}}}) and capture the path instead",
                cx.at.step.id
            ),
        ));
    }
    record.capture = Some(CaptureRecord {
        name: name.to_owned(),
        bytes: bytes as u64,
    });
    let captured = Event::Captured {
        scope: cx.at.ctx.scope,
        name: name.to_owned(),
        value,
    };
    cx.emit(captured)
        .map_err(|err| Failure::new(ErrorClass::Internal, err.to_string()))
}

/// The failure of a template that uses capture `name`, which has no value because of `why`.
pub fn unset_capture(name: &str, why: &str) -> Failure {
    Failure::new(
        ErrorClass::UndefinedVariable,
        format!("variable \"{name}\" has no value here: {why}"),
    )
}
