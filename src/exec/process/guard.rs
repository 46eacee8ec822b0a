//! The process guard: no step process outlives the runner (control.md §9).
//!
//! The first time a step process is started, the runner starts one small watchdog: its own
//! binary again (with [`WATCHDOG_ARG`]), in a process group of its own, reading a pipe from the
//! runner. The runner writes `+<pgid>` when it starts a process group for a step (shell command,
//! `skip_if: sh:`, headless agent, interactive agent, engine hook) and `-<pgid>` once it has
//! reaped it: one short write per process, nothing else per step. A process the runner starts
//! itself also announces its own group on the pipe between fork and exec
//! ([`announce_at_exec`]), so a runner killed right after a spawn, before its own write, leaves
//! nothing behind either: the group is listed before the process can run (or fork) anything.
//!
//! When the runner ends in any way, SIGKILL and OOM included, the kernel closes its end of the
//! pipe and the watchdog sees end-of-file. It then stops every group still listed, together with
//! every process descended from them (an agent's tool that moved to a session of its own is still
//! a child of a process in the group), and exits. The watchdog freezes what it finds with SIGSTOP
//! before it kills, so nothing forks past it. After a normal end nothing is listed and it simply
//! exits.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The argument that makes the binary run as the watchdog (`agent-runner <WATCHDOG_ARG>`).
pub const WATCHDOG_ARG: &str = "--internal-process-watchdog";

/// How long the watchdog keeps looking for processes to kill after the runner has gone.
const SWEEP_LIMIT: Duration = Duration::from_millis(1500);

/// The executable to start as the watchdog; unset (no guard) in library tests.
static EXE: OnceLock<PathBuf> = OnceLock::new();
/// The pipe to the watchdog once it runs; `None` when it could not be started.
static PIPE: Mutex<Option<Pipe>> = Mutex::new(None);

struct Pipe {
    stdin: Option<ChildStdin>,
    // Kept so the watchdog is not reaped early; it is never waited for: it outlives the runner.
    _child: Option<Child>,
}

/// Turns the guard on for this process: `exe` is started as the watchdog when the first step
/// process starts. Called by the `agent-runner` binary.
pub fn install(exe: PathBuf) {
    let _ = EXE.set(exe);
}

/// A listed process group; dropping it takes the group off the list.
#[derive(Debug)]
pub struct Watched(Option<u32>);

/// Lists the process group `pgid` with the watchdog (starting it if needed).
pub fn watch(pgid: Option<u32>) -> Watched {
    let Some(pgid) = pgid else {
        return Watched(None);
    };
    send(&format!("+{pgid}\n"));
    Watched(Some(pgid))
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            send(&format!("-{pgid}\n"));
        }
    }
}

/// Makes the process `command` starts write `+<its pid>` to the watchdog's pipe between fork and
/// exec (it leads its own group: `process_group(0)` runs before this hook). Starts the watchdog
/// if needed; without one (library tests, a failed start) it changes nothing.
pub fn announce_at_exec(command: &mut std::process::Command) {
    let Some(fd) = pipe_fd() else {
        return;
    };
    // SAFETY: the hook runs in the child between fork and exec and makes only async-signal-safe
    // calls (getpid, sigaction, write) on a stack buffer; `fd` stays open in the runner for the
    // life of the process (the pipe is never closed while the runner runs).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            announce(fd);
            Ok(())
        });
    }
}

/// Starts the watchdog now if it is not running yet (for spawns without a pre-exec hook).
pub fn start_early() {
    let _ = pipe_fd();
}

/// The raw descriptor of the pipe to the watchdog, starting the watchdog if needed.
fn pipe_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    let exe = EXE.get()?;
    let mut pipe = PIPE.lock().ok()?;
    let pipe = pipe.get_or_insert_with(|| start(exe));
    pipe.stdin.as_ref().map(AsRawFd::as_raw_fd)
}

/// In a forked child: writes `+<pid>\n` to `fd` in one write (atomic on a pipe). SIGPIPE is
/// ignored around the write, so a watchdog that has gone does not kill the step.
fn announce(fd: std::os::fd::RawFd) {
    use nix::sys::signal::{SigHandler, signal};
    let mut line = [0u8; 24];
    let mut end = line.len();
    line[end - 1] = b'\n';
    end -= 1;
    let mut pid = nix::unistd::getpid().as_raw().unsigned_abs();
    loop {
        end -= 1;
        line[end] = b'0' + (pid % 10) as u8;
        pid /= 10;
        if pid == 0 {
            break;
        }
    }
    end -= 1;
    line[end] = b'+';
    // SAFETY: setting SIGPIPE's disposition installs no handler code.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigIgn);
    }
    // SAFETY: `fd` is the runner's open pipe descriptor, inherited by this child until exec.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = nix::unistd::write(borrowed, &line[end..]);
    // SAFETY: as above.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
}

fn send(line: &str) {
    let Some(exe) = EXE.get() else {
        return;
    };
    let Ok(mut pipe) = PIPE.lock() else {
        return;
    };
    let pipe = pipe.get_or_insert_with(|| start(exe));
    if let Some(stdin) = pipe.stdin.as_mut()
        && stdin.write_all(line.as_bytes()).is_err()
    {
        pipe.stdin = None;
        tracing::warn!("the process watchdog has gone; step processes may outlive a crash");
    }
}

fn start(exe: &PathBuf) -> Pipe {
    let mut command = Command::new(exe);
    command
        .arg(WATCHDOG_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    match command.spawn() {
        Ok(mut child) => Pipe {
            stdin: child.stdin.take(),
            _child: Some(child),
        },
        Err(err) => {
            tracing::warn!(%err, "cannot start the process watchdog");
            Pipe {
                stdin: None,
                _child: None,
            }
        }
    }
}

/// The watchdog's main: follows the list on stdin until end-of-file, then stops what is left.
/// Returns the exit code.
pub fn watchdog_main() -> i32 {
    // The watchdog has its own process group, so the terminal's signals do not reach it; a
    // hang-up of the session must not end it before the runner's children.
    // SAFETY: setting a signal to be ignored installs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGHUP, nix::sys::signal::SigHandler::SigIgn);
        let _ = nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigIgn);
    }
    let mut groups = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (op, pgid) = line.split_at(line.len().min(1));
        let Ok(pgid) = pgid.parse::<i32>() else {
            continue;
        };
        match op {
            "+" if pgid > 1 => {
                groups.insert(pgid);
            }
            "-" => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    if !groups.is_empty() {
        sweep(groups);
    }
    0
}

/// Freezes and kills every process in `groups` or descended from one, until none is left.
fn sweep(mut groups: BTreeSet<i32>) {
    let deadline = Instant::now() + SWEEP_LIMIT;
    loop {
        let mut found = BTreeSet::new();
        // Freeze first, repeating until the set is stable: a frozen process cannot fork.
        loop {
            let members = members(&mut groups);
            let new: Vec<i32> = members.difference(&found).copied().collect();
            if new.is_empty() {
                break;
            }
            for pid in new {
                let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
                found.insert(pid);
            }
        }
        for pgid in &groups {
            let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
        }
        for pid in &found {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        if found.is_empty() || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The live processes that belong to `groups` or descend from such a process. The group of a
/// descendant that leads its own group (or session) joins `groups`.
fn members(groups: &mut BTreeSet<i32>) -> BTreeSet<i32> {
    let table = processes();
    let mut members: BTreeSet<i32> = table
        .iter()
        .filter(|p| groups.contains(&p.pgrp))
        .map(|p| p.pid)
        .collect();
    loop {
        let before = members.len();
        for p in &table {
            if members.contains(&p.ppid) {
                members.insert(p.pid);
                if p.pgrp == p.pid {
                    groups.insert(p.pgrp);
                }
            }
        }
        if members.len() == before {
            return members;
        }
    }
}

/// One line of the process table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgrp: i32,
}

/// Every live (not zombie) process in `/proc`.
fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?))
        .collect()
}

/// Reads pid, ppid and process group from `/proc/<pid>/stat`; `None` for a zombie. The command
/// name is in parentheses and may itself contain spaces and parentheses.
fn parse_stat(stat: &str) -> Option<Proc> {
    let (pid, rest) = stat.split_once(" (")?;
    let (_, rest) = rest.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    Some(Proc {
        pid: pid.trim().parse().ok()?,
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let stat = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 110 0 0 0";
        assert_eq!(
            parse_stat(stat),
            Some(Proc {
                pid: 4242,
                ppid: 17,
                pgrp: 4242
            })
        );
        assert_eq!(parse_stat("7 (sleep) Z 1 7 7 0"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn descendants_in_other_groups_are_members_and_bring_their_group() {
        // Read the real table: this test process is a member of its own group.
        let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let table = processes();
        let mine = table.iter().find(|p| p.pid == me).copied();
        assert!(mine.is_some(), "this process is in /proc");
        let mut groups = BTreeSet::from([mine.map_or(0, |p| p.pgrp)]);
        assert!(members(&mut groups).contains(&me));
    }
}
