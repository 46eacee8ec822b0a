//! Signals and the run lock through the real binary (runs-and-state.md §6, §9): SIGINT and
//! SIGTERM while a shell step runs stop the child's whole process group, save the state as
//! interrupted and exit 130; a second signal kills at once; a resume re-runs the interrupted step;
//! a second process on a live run is refused, and a lock left by a killed runner is not.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use pretty_assertions::assert_eq;

use crate::run_support::{only_run, wf};
use crate::test::Test;

const WAIT: Duration = Duration::from_secs(10);

/// A step that records its own pid and a grandchild's, then sleeps unless `done` exists.
/// `trap` is put before it by tests that want a child which ignores SIGINT.
fn sleeper(trap: &str) -> String {
    format!(
        r#"name: sleepy
steps:
  - id: first
    command: echo first >> log.txt
  - id: nap
    command: {trap}test -f done && exit 0; sleep 31 & echo $! > grandchild.pid; echo $$ > child.pid; exec sleep 30
"#
    )
}

fn pid_in(project: &Path, file: &str) -> i32 {
    std::fs::read_to_string(project.join(file))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether `pid` is still a live process (a zombie waiting for its reaper counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn both_pids_written(root: &Path) -> bool {
    let project = root.join("project");
    ["child.pid", "grandchild.pid"]
        .iter()
        .all(|f| std::fs::read_to_string(project.join(f)).is_ok_and(|t| t.ends_with('\n')))
}

#[test]
fn sigint_stops_the_process_group_saves_interrupted_state_and_exits_130() {
    let running = Test::new()
        .write(&wf("sleepy"), sleeper(""))
        .args(["sleepy"])
        .status(130)
        .stderr_contains("agent-runner: stopping; press Ctrl-C again to kill immediately\n")
        .spawn();
    let mut running = running;
    running.wait_until(WAIT, "the step's pid files", both_pids_written);
    let project = running.project();
    let (child, grandchild) = (
        pid_in(&project, "child.pid"),
        pid_in(&project, "grandchild.pid"),
    );
    running.signal(Signal::SIGINT);
    let out = running.finish(WAIT);
    assert!(!alive(child), "the step's process is still running");
    assert!(
        !alive(grandchild),
        "a process of the step's group is still running"
    );
    let run = only_run(out.tempdir.path());
    let id = run.id();
    assert!(
        out.stderr.ends_with(&format!(
            "\nagent-runner: interrupted; state saved\nto resume: agent-runner --resume {id}\n"
        )),
        "{}",
        out.stderr
    );
    let state = run.state();
    assert_eq!(state["status"], "interrupted");
    assert_eq!(state["position"]["step_id"], "nap");
    assert_eq!(state["position"]["state"], "interrupted");
    let audit = run.audit();
    let tail: Vec<String> = run.events().split_off(audit.len() - 3);
    assert_eq!(tail, ["step_end nap", "interrupt", "run_end"]);
    assert_eq!(audit[audit.len() - 3]["data"]["outcome"], "interrupted");
    assert_eq!(audit[audit.len() - 2]["data"]["signal"], "SIGINT");
    assert_eq!(audit[audit.len() - 1]["data"]["exit_code"], 130);
    assert!(!run.dir.join("lock").exists());

    // The resume runs the interrupted step again, and only that step.
    std::fs::write(project.join("done"), "").unwrap();
    let out = out
        .then()
        .args(["--resume"])
        .stderr_contains(&format!(
            "agent-runner: resuming run {id} of workflow \"sleepy\" at 2/2 nap\n"
        ))
        .run();
    assert_eq!(out.read("log.txt"), "first\n");
    let starts = run.events_named("step_start");
    let last = starts.last().unwrap();
    assert_eq!(
        (last["path"].as_str(), last["data"]["attempt"].as_u64()),
        (Some("nap"), Some(2))
    );
    assert_eq!(run.state()["status"], "completed");
}

#[test]
fn a_second_sigterm_kills_a_child_that_ignores_sigint() {
    let mut running = Test::new()
        .write(&wf("sleepy"), sleeper("trap '' INT; "))
        .args(["sleepy"])
        .status(130)
        .spawn();
    running.wait_until(WAIT, "the step's pid files", both_pids_written);
    let child = pid_in(&running.project(), "child.pid");
    running.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    running.signal(Signal::SIGTERM);
    // Below the 10 s SIGINT grace: only the second signal can have ended the child this soon.
    let out = running.finish(Duration::from_secs(8));
    assert!(!alive(child));
    let run = only_run(out.tempdir.path());
    let interrupt = &run.events_named("interrupt")[0];
    assert_eq!(interrupt["data"]["signal"], "SIGTERM");
    assert_eq!(interrupt["data"]["count"], 2);
    assert_eq!(run.state()["status"], "interrupted");
}

#[test]
fn a_live_run_is_locked_and_a_killed_runners_lock_does_not_block_resume() {
    let mut running = Test::new()
        .write(&wf("sleepy"), sleeper(""))
        .args(["sleepy"])
        .spawn();
    running.wait_until(WAIT, "the step's pid files", both_pids_written);
    let pid = running.pid();
    let project = running.project();
    let child = pid_in(&project, "child.pid");
    let run = only_run(running.path());
    let id = run.id();
    // The same temp dir, from a second process, while the first holds the lock.
    let lock_check = std::process::Command::new(env!("CARGO_BIN_EXE_agent-runner"))
        .args(["--resume", &id])
        .current_dir(&project)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", running.path().join("home"))
        .env(
            "AGENT_RUNNER_HOME",
            running.path().join("home/.agent-runner"),
        )
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&lock_check.stderr);
    assert_eq!(lock_check.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "agent-runner: error: run {id} is already in progress (pid {pid} on "
        )) && stderr.ends_with("; wait for it to finish or stop that process first\n"),
        "{stderr}"
    );

    // SIGKILL: nothing is written, the kernel frees the lock, and the run reads as interrupted.
    let test = running.kill();
    crate::run_support::kill_group(child);
    assert_eq!(run.state()["status"], "running");
    assert!(run.dir.join("lock").exists());
    std::fs::write(project.join("done"), "").unwrap();
    let out = test
        .args(["--resume"])
        .stderr_contains(&format!(
            "agent-runner: resuming run {id} of workflow \"sleepy\" at 2/2 nap\n"
        ))
        .run();
    assert_eq!(out.read("log.txt"), "first\n");
    assert_eq!(run.state()["status"], "completed");
}
