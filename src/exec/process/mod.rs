//! Child processes in their own process group, and how they are stopped.
//!
//! Shell steps, `skip_if: sh:` commands and headless agents each run as the leader of a new
//! process group, so the terminal's Ctrl-C reaches only the runner and a stop reaches every
//! grandchild too. Stopping escalates (runs-and-state.md §9): SIGINT to the group (agent CLIs
//! save their session), SIGTERM after 10 s, SIGKILL 3 s later; a second signal kills at once.

pub mod guard;
pub mod headless;
pub mod limits;
pub mod shell;
pub mod watchdog;

use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;

use super::signals::Interrupts;
use limits::{Activity, Expired, Limits};

/// How long a stopped group gets after SIGINT before SIGTERM, and after SIGTERM before SIGKILL.
const SIGINT_GRACE: Duration = Duration::from_secs(10);
const SIGTERM_GRACE: Duration = Duration::from_secs(3);

/// How a waited-for child ended.
#[derive(Debug)]
pub enum Finished {
    /// It exited (or was killed by a signal) without being stopped by us.
    Exited(ExitStatus),
    /// The run was interrupted while it ran; the group has been stopped and reaped.
    Interrupted,
    /// A limit was reached; the group has been stopped (SIGTERM, grace, SIGKILL) and reaped.
    TimedOut(Expired),
    /// A budget was exceeded (the reason); the group has been stopped like a reached limit.
    Halted(String),
}

/// A command for a non-interactive child: its own process group, stdin from `/dev/null`, stdout
/// and stderr piped to the runner, killed if the runner drops it.
pub fn group_command(program: &str, workdir: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .current_dir(workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    command
}

/// Spawns `command` (made by [`group_command`]) with the process guard: marked, announced, and
/// listed until the returned [`guard::Watched`] is dropped.
pub fn spawn_guarded(
    command: &mut tokio::process::Command,
) -> std::io::Result<(Child, guard::Watched)> {
    let spawning = guard::Spawning::begin(|name, value| {
        command.env(name, value);
    });
    let child = command.spawn()?;
    let watched = spawning.started(child.id());
    Ok((child, watched))
}

/// A launcher's client (docs/launchers.md): its complete argv, and what it is sent on stdin
/// first (the step's environment for the other side).
#[derive(Debug, Clone, Default)]
pub struct Launched {
    pub argv: Vec<String>,
    pub stdin: Vec<u8>,
}

/// For a launcher's client: stdin becomes a pipe, see [`feed_and_hold`].
pub fn hold_stdin(command: &mut tokio::process::Command, launched: bool) {
    if launched {
        command.stdin(std::process::Stdio::piped());
    }
}

/// Writes `first` to a launcher client's stdin, then holds it open, unwritten, until the
/// returned guard is dropped: the other side stops the step when it closes.
pub fn feed_and_hold(stdin: Option<tokio::process::ChildStdin>, first: Vec<u8>) -> Held {
    Held(stdin.map(|mut pipe| {
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            // A client that is gone is seen by the wait for it.
            if pipe.write_all(&first).await.is_ok() {
                let _ = pipe.flush().await;
            }
            std::future::pending::<()>().await;
            drop(pipe);
        })
    }))
}

/// A held stdin (see [`feed_and_hold`]); closed on drop.
pub struct Held(Option<tokio::task::JoinHandle<()>>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Sends `signal` to the whole process group led by `pid`. A group that is already gone is fine.
pub fn signal_group(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(raw), signal);
    }
}

/// Waits for `child` (a process-group leader). When the run is interrupted meanwhile, stops the
/// group with the escalation above and reports [`Finished::Interrupted`]; when a limit is
/// reached, stops it as [`limits`] says and reports [`Finished::TimedOut`].
pub async fn wait_or_stop(
    child: &mut Child,
    interrupts: &mut Interrupts,
    limits: &Limits,
    activity: &Activity,
) -> std::io::Result<Finished> {
    let spawned = tokio::time::Instant::now().into_std();
    let Some(pid) = child.id() else {
        return child.wait().await.map(Finished::Exited);
    };
    while !interrupts.stopping() {
        let next = limits.next(spawned, activity);
        let deadline = next.map(|(at, _)| tokio::time::Instant::from_std(at));
        tokio::select! {
            status = child.wait() => return status.map(Finished::Exited),
            () = interrupts.stop_requested() => {}
            () = halted(limits) => {
                term_then_kill(child, pid, interrupts, limits.grace).await?;
                let why = limits.halt.as_ref().and_then(|h| h.reason()).unwrap_or_default();
                return Ok(Finished::Halted(why));
            }
            () = sleep_until(deadline) => {
                // An idle limit moves with output: only a limit still reached now counts.
                if let Some((at, expired)) = limits.next(spawned, activity)
                    && at <= std::time::Instant::now()
                {
                    time_out(child, pid, interrupts, limits, expired).await?;
                    return Ok(Finished::TimedOut(expired));
                }
            }
        }
    }
    if interrupts.count() == 0 {
        // A halted parallel branch (control.md §8): stopped like a reached limit.
        term_then_kill(child, pid, interrupts, limits.grace).await?;
    } else {
        stop_group(child, pid, interrupts).await?;
    }
    Ok(Finished::Interrupted)
}

/// Resolves when a budget asks the child to stop (never without a halt).
async fn halted(limits: &Limits) {
    match &limits.halt {
        Some(halt) => halt.stopped().await,
        None => std::future::pending().await,
    }
}

/// Resolves at `deadline`; never without one.
pub async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The stop sequence of a reached limit: SIGTERM to the group (agent CLIs flush their final
/// events), the grace while the output is still read, then SIGKILL. An interruption during the
/// grace kills at once.
async fn time_out(
    child: &mut Child,
    pid: u32,
    interrupts: &mut Interrupts,
    limits: &Limits,
    expired: Expired,
) -> std::io::Result<()> {
    if let Some(notice) = &limits.notice {
        let _ = notice.send(expired);
    }
    term_then_kill(child, pid, interrupts, limits.grace).await
}

/// SIGTERM to the group, `grace` while the output is still read (an interruption during it
/// kills at once), then SIGKILL. Also how a halted parallel branch's group is stopped.
async fn term_then_kill(
    child: &mut Child,
    pid: u32,
    interrupts: &mut Interrupts,
    grace: Duration,
) -> std::io::Result<()> {
    signal_group(pid, Signal::SIGTERM);
    let seen = interrupts.count();
    tokio::select! {
        status = child.wait() => { status?; }
        () = tokio::time::sleep(grace) => {}
        () = interrupts.next_after(seen) => {}
    }
    signal_group(pid, Signal::SIGKILL);
    child.wait().await?;
    Ok(())
}

/// The stop escalation for an interrupted run. Also kills the group's stragglers after the
/// leader has exited, so nothing is left running.
async fn stop_group(
    child: &mut Child,
    pid: u32,
    interrupts: &mut Interrupts,
) -> std::io::Result<()> {
    let steps = [
        (Signal::SIGINT, SIGINT_GRACE),
        (Signal::SIGTERM, SIGTERM_GRACE),
    ];
    for (signal, grace) in steps {
        if interrupts.count() >= 2 {
            break;
        }
        signal_group(pid, signal);
        tokio::select! {
            status = child.wait() => {
                status?;
                signal_group(pid, Signal::SIGKILL);
                return Ok(());
            }
            () = tokio::time::sleep(grace) => {}
            () = interrupts.next_after(1) => {}
        }
    }
    signal_group(pid, Signal::SIGKILL);
    child.wait().await?;
    Ok(())
}
