//! Staging an interactive step's environment on the other side (docs/launchers.md): one
//! headless connection through the launcher writes the step's `export` lines, sent on its
//! stdin, to a new private file there and prints the file's path; the interactive connection
//! then sources and deletes it. The values never appear on a command line, and never pass
//! through the remote terminal (which would echo them).

use std::path::Path;

use super::super::outcome::{ErrorClass, Failure};
use super::super::process::Launched;
use super::super::process::shell::{self, CaptureMode, ShellJob};
use super::super::run::StepCtx;
use super::super::steps::timeouts;
use super::Target;
use super::remote;

/// The path of the staged file on the other side; `Ok(None)` when the run was interrupted.
pub async fn stage(
    cx: &StepCtx<'_, '_>,
    target: &Target,
    workdir: &Path,
    env: &[(String, String)],
) -> Result<Option<String>, Failure> {
    let block = remote::env_block(env).map_err(super::invalid)?;
    let script = remote::stage_script(remote::lines(&block));
    let job = ShellJob {
        shell: cx.settings().shell.clone(),
        script: String::new(),
        workdir: workdir.to_path_buf(),
        env: Vec::new(),
        env_remove: Vec::new(),
        capture: Some(CaptureMode::StdoutAndStderr),
        output_files: None,
        echo: false,
        echo_label: None,
        limits: timeouts::limits(cx, None).0,
        launched: Some(Launched {
            argv: remote::client_argv(&target.argv, target.shell, false, script),
            stdin: block.into_bytes(),
        }),
    };
    let failed = |why: String| {
        Failure::new(
            ErrorClass::ExitStatus,
            format!("cannot pass the step's environment through the launcher: {why}"),
        )
    };
    let outcome = shell::run(job, cx.interrupts())
        .await
        .map_err(|err| failed(err.to_string()))?;
    if outcome.timed_out.is_some() {
        return Err(failed("the step's time limit was reached".to_owned()));
    }
    let Some(status) = outcome.status else {
        return Ok(None);
    };
    let output = String::from_utf8_lossy(&outcome.stdout);
    let staged = output
        .lines()
        .find_map(|line| line.strip_prefix(remote::STAGED_MARKER));
    match staged {
        Some(file) if status.success() => Ok(Some(file.to_owned())),
        _ => {
            let stderr = String::from_utf8_lossy(&outcome.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            Err(failed(format!(
                "{status}{}",
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            )))
        }
    }
}
