//! The shell executor: runs one `command` (or `skip_if: sh:`) as `<shell> -c <script>`.
//!
//! The child leads its own process group with stdin from `/dev/null`. Its stdout and stderr are
//! teed: to the console as they arrive, to the step's output files (redacted line by line, capped
//! at 64 MiB), and, for `capture`, into memory (capped just above the 1 MiB capture limit so a
//! runaway command cannot exhaust memory). The executor reports; the runtime decides.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::super::signals::Interrupts;
use super::{Finished, wait_or_stop};
use crate::state::Redactor;

/// Captured values above this size fail the step (workflow-format.md §9).
pub const CAPTURE_LIMIT: usize = 1024 * 1024;
/// Output files stop growing here.
const OUTPUT_FILE_LIMIT: u64 = 64 * 1024 * 1024;

/// Everything one shell command needs; owned, so the runtime stays free while it runs.
pub struct ShellJob {
    pub shell: String,
    pub script: String,
    pub workdir: PathBuf,
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    /// Keep stdout (and stderr when `capture_stderr`) in memory.
    pub capture: Option<CaptureMode>,
    /// Where stdout and stderr are written; `None` keeps nothing (skip_if commands).
    pub output_files: Option<(PathBuf, PathBuf)>,
    /// Show the child's output on the console.
    pub echo: bool,
    pub redactor: Arc<Redactor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    Stdout,
    StdoutAndStderr,
}

#[derive(Debug)]
pub struct ShellOutcome {
    /// `None` when the run was interrupted while the command ran.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs the job to completion (or until the run is interrupted).
pub async fn run(job: ShellJob, mut interrupts: Interrupts) -> std::io::Result<ShellOutcome> {
    let mut command = super::group_command(&job.shell, &job.workdir);
    command.arg("-c").arg(&job.script);
    for name in &job.env_remove {
        command.env_remove(name);
    }
    command.envs(job.env.iter().map(|(k, v)| (k, v)));
    tracing::debug!(shell = %job.shell, script = %job.script, workdir = %job.workdir.display(), "spawning shell command");
    let mut child = command.spawn()?;
    let (stdout_file, stderr_file) = match &job.output_files {
        Some((out, err)) => (Some(out.clone()), Some(err.clone())),
        None => (None, None),
    };
    let keep_stdout = job.capture.is_some();
    let keep_stderr = job.capture == Some(CaptureMode::StdoutAndStderr);
    let stdout = child.stdout.take().map(|pipe| {
        let tee = Tee::new(
            stdout_file,
            job.echo.then_some(ConsoleStream::Stdout),
            keep_stdout,
            job.redactor.clone(),
        );
        tokio::spawn(tee.pump(pipe))
    });
    let stderr = child.stderr.take().map(|pipe| {
        let tee = Tee::new(
            stderr_file,
            job.echo.then_some(ConsoleStream::Stderr),
            keep_stderr,
            job.redactor.clone(),
        );
        tokio::spawn(tee.pump(pipe))
    });
    let finished = wait_or_stop(&mut child, &mut interrupts).await?;
    let stdout = join(stdout).await?;
    let stderr = join(stderr).await?;
    let status = match finished {
        Finished::Exited(status) => Some(status),
        Finished::Interrupted => None,
    };
    Ok(ShellOutcome {
        status,
        stdout,
        stderr,
    })
}

async fn join(
    task: Option<tokio::task::JoinHandle<std::io::Result<Vec<u8>>>>,
) -> std::io::Result<Vec<u8>> {
    match task {
        Some(task) => task.await.map_err(std::io::Error::other)?,
        None => Ok(Vec::new()),
    }
}

#[derive(Clone, Copy)]
enum ConsoleStream {
    Stdout,
    Stderr,
}

/// One output stream's destinations.
struct Tee {
    file: Option<PathBuf>,
    console: Option<ConsoleStream>,
    keep: bool,
    redactor: Arc<Redactor>,
}

impl Tee {
    fn new(
        file: Option<PathBuf>,
        console: Option<ConsoleStream>,
        keep: bool,
        redactor: Arc<Redactor>,
    ) -> Self {
        Tee {
            file,
            console,
            keep,
            redactor,
        }
    }

    async fn pump(self, mut pipe: impl AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
        let mut file = match &self.file {
            Some(path) => Some(super::super::files::create_private(path).await?),
            None => None,
        };
        let mut written: u64 = 0;
        let mut pending_line: Vec<u8> = Vec::new();
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = pipe.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            if let Some(stream) = self.console {
                write_console(stream, chunk).await;
            }
            if self.keep && kept.len() <= CAPTURE_LIMIT {
                kept.extend_from_slice(&chunk[..chunk.len().min(CAPTURE_LIMIT + 1 - kept.len())]);
            }
            if let Some(file) = file.as_mut() {
                pending_line.extend_from_slice(chunk);
                if let Some(last_newline) = pending_line.iter().rposition(|&b| b == b'\n') {
                    let rest = pending_line.split_off(last_newline + 1);
                    written += self.write_redacted(file, &pending_line, written).await?;
                    pending_line = rest;
                }
            }
        }
        if let Some(file) = file.as_mut() {
            self.write_redacted(file, &pending_line, written).await?;
            file.flush().await?;
        }
        Ok(kept)
    }

    async fn write_redacted(
        &self,
        file: &mut tokio::fs::File,
        bytes: &[u8],
        written: u64,
    ) -> std::io::Result<u64> {
        if bytes.is_empty() || written >= OUTPUT_FILE_LIMIT {
            return Ok(0);
        }
        let text = String::from_utf8_lossy(bytes);
        let redacted = self.redactor.redact(&text);
        let room = usize::try_from(OUTPUT_FILE_LIMIT - written).unwrap_or(usize::MAX);
        let out = &redacted.as_bytes()[..redacted.len().min(room)];
        file.write_all(out).await?;
        Ok(out.len() as u64)
    }
}

async fn write_console(stream: ConsoleStream, chunk: &[u8]) {
    crate::console::spinner::clear();
    // A closed console (e.g. `agent-runner wf | head`) must not fail the step.
    let _ = match stream {
        ConsoleStream::Stdout => {
            let mut out = tokio::io::stdout();
            out.write_all(chunk).await.and(out.flush().await)
        }
        ConsoleStream::Stderr => {
            let mut err = tokio::io::stderr();
            err.write_all(chunk).await.and(err.flush().await)
        }
    };
}
