//! The shell executor: runs one `command` (or `skip_if: sh:`) as `<shell> -c <script>`.
//!
//! The child leads its own process group with stdin from `/dev/null`. Its stdout and stderr are
//! teed: to the console as they arrive (redacted, see [`crate::console::echo`]), to the step's
//! output files (redacted line by line, capped at 64 MiB), and, for `capture`, into memory
//! (capped just above the 1 MiB capture limit so a runaway command cannot exhaust memory). The executor reports; the runtime decides.

use std::path::PathBuf;
use std::process::ExitStatus;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::super::files::OutputFile;
use super::super::signals::Interrupts;
use super::limits::{Activity, Expired, Limits};
use super::{Finished, wait_or_stop};
use crate::console::echo::{self, Echo};

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
    /// The parallel branch's label and colour, for the echo's line prefix on a terminal.
    pub echo_label: Option<(String, u8)>,
    /// `timeout` and `idle_timeout` (any byte on stdout or stderr is activity).
    pub limits: Limits,
    /// The launcher's client (docs/launchers.md), which runs the script on the other side
    /// with `env` there; `None` runs `<shell> -c <script>` here.
    pub launched: Option<super::Launched>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    Stdout,
    StdoutAndStderr,
}

#[derive(Debug)]
pub struct ShellOutcome {
    /// `None` when the run was interrupted, or a limit reached, while the command ran.
    pub status: Option<ExitStatus>,
    /// The limit that stopped the command.
    pub timed_out: Option<Expired>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Whether stdout's and stderr's output files were created (a stream that printed nothing
    /// has none).
    pub files: (bool, bool),
}

/// Runs the job to completion (or until the run is interrupted). An error says what failed:
/// starting the shell, or writing an output file (naming it).
pub async fn run(job: ShellJob, mut interrupts: Interrupts) -> std::io::Result<ShellOutcome> {
    let launched = job.launched.as_ref().and_then(|l| l.argv.split_first());
    let (program, mut command) = match launched {
        Some((program, args)) => {
            let mut command = super::group_command(program, &job.workdir);
            command.args(args);
            super::hold_stdin(&mut command, true);
            (program.as_str(), command)
        }
        None => {
            let mut command = super::group_command(&job.shell, &job.workdir);
            command.arg("-c").arg(&job.script);
            for name in &job.env_remove {
                command.env_remove(name);
            }
            command.envs(job.env.iter().map(|(k, v)| (k, v)));
            (job.shell.as_str(), command)
        }
    };
    tracing::debug!(shell = %job.shell, script = %job.script, workdir = %job.workdir.display(), "spawning shell command");
    let (mut child, _watched) = super::spawn_guarded(&mut command)
        .map_err(|err| std::io::Error::new(err.kind(), format!("cannot start {program}: {err}")))?;
    let first = job.launched.as_ref().map(|l| l.stdin.clone());
    let _held = super::feed_and_hold(child.stdin.take(), first.unwrap_or_default());
    let (stdout_file, stderr_file) = match &job.output_files {
        Some((out, err)) => (Some(out.clone()), Some(err.clone())),
        None => (None, None),
    };
    let activity = Activity::default();
    let keep_stdout = job.capture.is_some();
    let keep_stderr = job.capture == Some(CaptureMode::StdoutAndStderr);
    let stdout = child.stdout.take().map(|pipe| {
        let tee = Tee::new(
            stdout_file,
            job.echo.then(|| echo_of(&job, echo::Stream::Stdout)),
            keep_stdout,
            activity.clone(),
        );
        tokio::spawn(tee.pump(pipe))
    });
    let stderr = child.stderr.take().map(|pipe| {
        let tee = Tee::new(
            stderr_file,
            job.echo.then(|| echo_of(&job, echo::Stream::Stderr)),
            keep_stderr,
            activity.clone(),
        );
        tokio::spawn(tee.pump(pipe))
    });
    let finished = wait_or_stop(&mut child, &mut interrupts, &job.limits, &activity).await?;
    let (stdout, stdout_file) = join(stdout).await?;
    let (stderr, stderr_file) = join(stderr).await?;
    let (status, timed_out) = match finished {
        Finished::Exited(status) => (Some(status), None),
        // Shell steps have no budget: nothing halts them.
        Finished::Interrupted | Finished::Halted(_) => (None, None),
        Finished::TimedOut(expired) => (None, Some(expired)),
    };
    Ok(ShellOutcome {
        status,
        timed_out,
        stdout,
        stderr,
        files: (stdout_file, stderr_file),
    })
}

fn echo_of(job: &ShellJob, stream: echo::Stream) -> Echo {
    match &job.echo_label {
        Some((label, colour)) => Echo::in_branch(stream, Some(label), *colour),
        None => Echo::new(stream),
    }
}

/// What a [`Tee`] kept in memory, and whether it created its output file.
type Teed = (Vec<u8>, bool);

async fn join(
    task: Option<tokio::task::JoinHandle<std::io::Result<Teed>>>,
) -> std::io::Result<Teed> {
    match task {
        Some(task) => task.await.map_err(std::io::Error::other)?,
        None => Ok((Vec::new(), false)),
    }
}

/// One output stream's destinations.
struct Tee {
    file: Option<PathBuf>,
    echo: Option<Echo>,
    keep: bool,
    activity: Activity,
}

impl Tee {
    fn new(file: Option<PathBuf>, echo: Option<Echo>, keep: bool, activity: Activity) -> Self {
        Tee {
            file,
            echo,
            keep,
            activity,
        }
    }

    async fn pump(mut self, mut pipe: impl AsyncRead + Unpin) -> std::io::Result<Teed> {
        // The output file is created with the stream's first bytes: a step that prints
        // nothing leaves no empty file behind.
        let mut file: Option<OutputFile> = None;
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.echo.as_mut() {
                Some(echo) if echo.holding() => {
                    match tokio::time::timeout(echo::HOLD, pipe.read(&mut buf)).await {
                        Ok(read) => read?,
                        Err(_) => {
                            echo.flush().await;
                            continue;
                        }
                    }
                }
                _ => pipe.read(&mut buf).await?,
            };
            if n == 0 {
                break;
            }
            self.activity.touch();
            let chunk = &buf[..n];
            if let Some(echo) = self.echo.as_mut() {
                echo.write(chunk).await;
            }
            if self.keep && kept.len() <= CAPTURE_LIMIT {
                kept.extend_from_slice(&chunk[..chunk.len().min(CAPTURE_LIMIT + 1 - kept.len())]);
            }
            if file.is_none()
                && let Some(path) = self.file.as_deref()
            {
                file = Some(OutputFile::create(path, OUTPUT_FILE_LIMIT)?);
            }
            if let Some(file) = file.as_mut() {
                file.write(chunk).await?;
            }
        }
        if let Some(echo) = self.echo.as_mut() {
            echo.flush().await;
        }
        let created = file.is_some();
        if let Some(file) = file {
            file.finish().await?;
        }
        Ok((kept, created))
    }
}
