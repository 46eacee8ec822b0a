//! Process lifetime (control.md §9): when the runner is killed with SIGKILL, none of the
//! processes its steps started keeps running, nor does the runner's watchdog. Processes are found
//! in `/proc` by the test's temporary directory in their environment (every step process inherits
//! `HOME` from the runner), so the check sees grandchildren that left the step's process group.

use std::time::{Duration, Instant};

use crate::test::{Output, Test, agent_workflow};

/// The limit of control.md §9.
pub const GONE_WITHIN: Duration = Duration::from_secs(2);

/// The live (not zombie) processes whose environment mentions `marker`: `(pid, command name)`.
pub fn processes_with(marker: &str) -> Vec<(i32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.windows(marker.len()).any(|w| w == marker.as_bytes()))
        })
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (_, rest) = stat.split_once(" (")?;
            let (name, rest) = rest.rsplit_once(") ")?;
            (!rest.starts_with('Z')).then(|| (pid, name.to_owned()))
        })
        .collect()
}

/// Asserts that no process started by the test's run is left (the watchdog included).
pub fn nothing_left(out: &Output) {
    let marker = out.tempdir.path().display().to_string();
    let ended = Instant::now();
    while !processes_with(&marker).is_empty() {
        assert!(
            ended.elapsed() < Duration::from_secs(2),
            "left running: {:?}",
            processes_with(&marker)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `test`, waits until `sleeps` `sleep` processes of its steps run, kills the runner
/// with SIGKILL and asserts that every process of the run is gone within [`GONE_WITHIN`].
fn killed_runner_leaves_nothing(test: Test, sleeps: usize) {
    let marker = test.path().display().to_string();
    let mut running = test.spawn();
    let count = |name: &str| {
        processes_with(&marker)
            .iter()
            .filter(|(_, n)| n == name)
            .count()
    };
    running.wait_until(Duration::from_secs(30), "the step's sleeps", |_| {
        count("sleep") >= sleeps
    });
    let _test = running.kill();
    all_gone_within(&marker, Instant::now(), "");
}

/// Asserts that every process whose environment names `marker` is gone within [`GONE_WITHIN`]
/// of `killed` (the moment the runner was killed); `context` starts the failure message.
pub fn all_gone_within(marker: &str, killed: Instant, context: &str) {
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < GONE_WITHIN,
            "{context}still running {GONE_WITHIN:?} after the runner was killed: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigkill_of_the_runner_stops_a_shell_steps_processes() {
    // The step's shell waits for one sleep in its group and one that moved to a session of its
    // own; both are its children, not the runner's.
    let test = Test::new()
        .workflow(
            "w",
            "name: w\nsteps:\n  - id: wait\n    command: setsid sleep 300 & sleep 300; echo done\n",
        )
        .arg("w");
    killed_runner_leaves_nothing(test, 2);
}

#[test]
fn sigkill_of_the_runner_stops_a_headless_agent_and_its_children() {
    let test =
        agent_workflow("name: w\nsteps:\n  - id: agent\n    mode: headless\n    prompt: Work.\n")
            .fake_script("- [{sh: \"setsid sleep 300 & sleep 300\"}]\n");
    killed_runner_leaves_nothing(test, 2);
}

#[test]
fn a_run_that_ends_normally_leaves_no_watchdog_behind() {
    let test = Test::new()
        .workflow("w", "name: w\nsteps:\n  - id: a\n    command: echo hi\n")
        .arg("w");
    let marker = test.path().display().to_string();
    let out = test.run();
    let ended = Instant::now();
    while !processes_with(&marker).is_empty() {
        assert!(
            ended.elapsed() < GONE_WITHIN,
            "left running: {:?}",
            processes_with(&marker)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(out);
}

/// The watchdog as the runner starts it, with the pipe the runner writes to, and a process
/// started the way the runner starts a step's: in a group of its own, marked as spawn `n`.
fn watchdog_and_marked_sleep(
    marker: &std::path::Path,
    n: u32,
) -> (std::process::Child, std::process::Child) {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let runner = "4194000";
    let watchdog = Command::new(env!("CARGO_BIN_EXE_agent-runner"))
        .args(["--internal-process-watchdog", runner])
        .env("HOME", marker)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("start the watchdog: {err}"));
    let sleep = Command::new("sleep")
        .arg("300")
        .env("HOME", marker)
        .env("AGENT_RUNNER_GUARD", format!("{runner}.{n}"))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| panic!("start sleep: {err}"));
    (watchdog, sleep)
}

/// Starts the watchdog and a sleep marked as spawn `n`, gives the watchdog's pipe `writes` (made
/// with the sleep's pid; a short pause after each), closes it like a dying runner, and checks
/// that the sleep is stopped.
fn stopped_once_the_pipe_closes(n: u32, writes: impl Fn(u32) -> Vec<String>, context: &str) {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
    let marker = dir.path().display().to_string();
    let (mut watchdog, mut sleep) = watchdog_and_marked_sleep(dir.path(), n);
    let mut pipe = watchdog.stdin.take().unwrap_or_else(|| panic!("no pipe"));
    for write in writes(sleep.id()) {
        std::io::Write::write_all(&mut pipe, write.as_bytes())
            .unwrap_or_else(|err| panic!("{err}"));
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(pipe);
    let closed = Instant::now();
    all_gone_within(&marker, closed, context);
    let _ = watchdog.wait();
    let _ = sleep.wait();
}

#[test]
fn a_process_the_runner_was_still_starting_when_it_died_is_stopped_too() {
    // The runner writes `?<n>` before a spawn and `+<pgid> <n>` after it: killed in between,
    // it never lists the group, and the watchdog finds the process by its mark instead.
    stopped_once_the_pipe_closes(7, |_| vec!["?6\n?7\n!6\n".to_owned()], "a pending spawn: ");
}

#[test]
fn a_spawn_taken_back_is_not_the_watchdogs_to_stop() {
    // `!<n>` takes a spawn back (it failed): a process that happens to carry its mark is not
    // the watchdog's to stop.
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
    let (mut watchdog, mut sleep) = watchdog_and_marked_sleep(dir.path(), 3);
    let mut pipe = watchdog.stdin.take().unwrap_or_else(|| panic!("no pipe"));
    std::io::Write::write_all(&mut pipe, b"?3\n!3\n").unwrap_or_else(|err| panic!("{err}"));
    drop(pipe);
    let _ = watchdog.wait();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        matches!(sleep.try_wait(), Ok(None)),
        "the watchdog stopped a process whose spawn was taken back"
    );
    let _ = sleep.kill();
    let _ = sleep.wait();
}

#[test]
fn a_listed_group_is_stopped_whatever_way_its_lines_arrived() {
    // The watchdog reads the runner's lines in batches, pausing between reads: lines written
    // during a pause, and a last line whose newline never came, are followed all the same. The
    // process carries another spawn's mark, so only its listing can get it stopped.
    stopped_once_the_pipe_closes(
        5,
        |pid| {
            vec![
                "?9\n".to_owned(),
                "?8\n!8\n".to_owned(),
                format!("+{pid} 9"),
            ]
        },
        "a listed group: ",
    );
}
