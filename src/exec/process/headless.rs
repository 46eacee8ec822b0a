//! The process side of a headless agent step: spawn the CLI (own process group, stdin from
//! `/dev/null`), keep its raw stdout stream and its stderr in the step's output files, and send
//! every stdout line to the agent executor, which parses it. Lines are capped at 16 MiB.

use std::path::PathBuf;
use std::process::ExitStatus;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

use super::super::files::OutputFile;
use super::super::signals::Interrupts;
use super::limits::{Activity, Expired, Limits};
use super::{Finished, wait_or_stop};

/// Longest stream line passed on whole; longer lines are cut (and then parse as raw text).
const MAX_LINE: usize = 16 * 1024 * 1024;
/// How much of the end of stderr is kept for failure messages.
const STDERR_TAIL_LINES: usize = 20;

pub struct HeadlessJob {
    pub program: String,
    pub args: Vec<String>,
    /// The complete environment of the child.
    pub env: Vec<(String, String)>,
    pub workdir: PathBuf,
    pub stream_file: PathBuf,
    pub stderr_file: PathBuf,
    /// `timeout` and `idle_timeout` (each stdout line, a stream event, is activity).
    pub limits: Limits,
    /// `program` is a launcher's client (docs/launchers.md): these bytes (the agent's
    /// environment) are written to its stdin, which is then held open.
    pub launched: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct HeadlessEnd {
    /// `None` when the run was interrupted, or a limit reached, while the agent ran.
    pub status: Option<ExitStatus>,
    /// The limit that stopped the agent.
    pub timed_out: Option<Expired>,
    /// The exceeded budget that stopped the agent.
    pub halted: Option<String>,
    pub stderr_tail: String,
}

/// Runs the agent; stdout lines go to `lines` as they arrive.
pub async fn run(
    job: HeadlessJob,
    lines: mpsc::UnboundedSender<Vec<u8>>,
    mut interrupts: Interrupts,
) -> std::io::Result<HeadlessEnd> {
    let mut command = super::group_command(&job.program, &job.workdir);
    command
        .args(&job.args)
        .env_clear()
        .envs(job.env.iter().map(|(k, v)| (k, v)));
    super::hold_stdin(&mut command, job.launched.is_some());
    tracing::debug!(program = %job.program, args = ?job.args, "spawning headless agent");
    let (mut child, _watched) = super::spawn_guarded(&mut command)?;
    let _held = super::feed_and_hold(child.stdin.take(), job.launched.unwrap_or_default());
    let activity = Activity::default();
    let stdout = child.stdout.take().map(|pipe| {
        tokio::spawn(pump_lines(
            pipe,
            job.stream_file.clone(),
            lines,
            activity.clone(),
        ))
    });
    let stderr = child
        .stderr
        .take()
        .map(|pipe| tokio::spawn(pump_stderr(pipe, job.stderr_file.clone())));
    let finished = wait_or_stop(&mut child, &mut interrupts, &job.limits, &activity).await?;
    if let Some(task) = stdout {
        task.await.map_err(std::io::Error::other)??;
    }
    let stderr_tail = match stderr {
        Some(task) => task.await.map_err(std::io::Error::other)??,
        None => String::new(),
    };
    let (status, timed_out, halted) = match finished {
        Finished::Exited(status) => (Some(status), None, None),
        Finished::Interrupted => (None, None, None),
        Finished::TimedOut(expired) => (None, Some(expired), None),
        Finished::Halted(why) => (None, None, Some(why)),
    };
    Ok(HeadlessEnd {
        status,
        timed_out,
        halted,
        stderr_tail,
    })
}

async fn pump_lines(
    pipe: impl AsyncRead + Unpin,
    file: PathBuf,
    lines: mpsc::UnboundedSender<Vec<u8>>,
    activity: Activity,
) -> std::io::Result<()> {
    let mut out = OutputFile::create(&file, u64::MAX)?;
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            break;
        }
        activity.touch();
        out.write(&line).await?;
        if line.last() != Some(&b'\n') && line.len() >= MAX_LINE {
            // Skip the rest of an overlong line; what was kept is passed on as it is.
            let mut rest = Vec::new();
            reader.read_until(b'\n', &mut rest).await?;
        }
        let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if lines.send(trimmed.to_vec()).is_err() {
            break;
        }
    }
    out.finish().await
}

/// Copies stderr to its file and returns the last lines.
async fn pump_stderr(mut pipe: impl AsyncRead + Unpin, file: PathBuf) -> std::io::Result<String> {
    let mut out = OutputFile::create(&file, u64::MAX)?;
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        out.write(&buf[..n]).await?;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 64 * 1024 {
            tail.drain(..tail.len() - 64 * 1024);
        }
    }
    out.finish().await?;
    let text = String::from_utf8_lossy(&tail);
    let lines: Vec<&str> = text.lines().collect();
    Ok(lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n"))
}
