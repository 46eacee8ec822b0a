//! The process watchdog (see [`super::guard`]): a second copy of the binary that follows the
//! runner's list of step process groups on its stdin and, when the runner has gone without
//! taking them all off the list, stops them.
//!
//! At end-of-file it stops every group still listed and every spawn still pending (found by
//! its `AGENT_RUNNER_GUARD` mark), together with every process descended from them (an agent's
//! tool that moved to a session of its own is still a child of a process in the group), and
//! exits. It freezes what it finds with SIGSTOP before it kills, so nothing forks past it. After
//! a normal end nothing is listed and it simply exits.

use std::collections::BTreeSet;
use std::io::Read;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::guard::GUARD_ENV;

/// How long the watchdog keeps looking for processes to kill after the runner has gone.
const SWEEP_LIMIT: Duration = Duration::from_millis(1500);
/// How long the watchdog sleeps after each read of the runner's lines: what the runner writes
/// meanwhile waits in the pipe without waking it (three lines a step, each a wake-up of this
/// process otherwise). The runner's end is noticed at most two pauses later (the lines written
/// just before it, then the end of the pipe).
const PACE: Duration = Duration::from_millis(20);
/// How long a process the runner was starting as it died may take to reach its `exec` (and so
/// to show its mark).
const EXEC_GRACE: Duration = Duration::from_millis(50);

/// The runner's list: the process groups it started and the spawns it has announced.
#[derive(Default)]
struct List {
    groups: BTreeSet<i32>,
    pending: BTreeSet<u64>,
}

impl List {
    /// Follows one line of the runner: `?<n>`, `!<n>`, `+<pgid> <n>` or `-<pgid>`.
    fn apply(&mut self, line: &str) {
        let (op, rest) = line.split_at(line.len().min(1));
        let mut words = rest.split(' ').map(str::parse::<u64>);
        let Some(Ok(first)) = words.next() else {
            return;
        };
        match op {
            "?" => {
                self.pending.insert(first);
            }
            "!" => {
                self.pending.remove(&first);
            }
            "+" => {
                if let Some(Ok(n)) = words.next() {
                    self.pending.remove(&n);
                }
                if let Ok(pgid) = i32::try_from(first)
                    && pgid > 1
                {
                    self.groups.insert(pgid);
                }
            }
            "-" => {
                if let Ok(pgid) = i32::try_from(first) {
                    self.groups.remove(&pgid);
                }
            }
            _ => {}
        }
    }
}

/// The watchdog's main: follows the list on stdin until end-of-file, then stops what is left.
/// `runner` is the pid of the runner that started it (given on its command line: by the time
/// the watchdog asks for its parent, the runner may already be gone). Returns the exit code.
pub fn watchdog_main(runner: &str) -> i32 {
    // The watchdog has its own process group, so the terminal's signals do not reach it; a
    // hang-up of the session must not end it before the runner's children.
    // SAFETY: setting a signal to be ignored installs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGHUP, nix::sys::signal::SigHandler::SigIgn);
        let _ = nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigIgn);
    }
    let mut list = List::default();
    let mut stdin = std::io::stdin().lock();
    let mut unread = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        unread.extend_from_slice(&chunk[..n]);
        let complete = unread
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        for line in unread[..complete].split(|&b| b == b'\n') {
            list.apply(&String::from_utf8_lossy(line));
        }
        unread.drain(..complete);
        // What the runner writes meanwhile waits in the pipe without waking anyone.
        std::thread::sleep(PACE);
    }
    // A last line without its newline counts too.
    list.apply(&String::from_utf8_lossy(&unread));
    let List {
        mut groups,
        pending,
    } = list;
    if !pending.is_empty() {
        let marks: Vec<String> = pending
            .iter()
            .map(|n| format!("{GUARD_ENV}={runner}.{n}"))
            .collect();
        groups.extend(marked(&marks));
        // A process being started as the runner died shows its mark once it has exec'd.
        std::thread::sleep(EXEC_GRACE);
        groups.extend(marked(&marks));
    }
    if !groups.is_empty() {
        sweep(groups);
    }
    0
}

/// The process groups of the live processes whose environment holds one of `marks`.
fn marked(marks: &[String]) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{}/environ", p.pid)).is_ok_and(|environ| {
                environ
                    .split(|b| *b == 0)
                    .any(|entry| marks.iter().any(|m| entry == m.as_bytes()))
            })
        })
        .map(|p| p.pgrp)
        .filter(|pgrp| *pgrp > 1)
        .collect()
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
