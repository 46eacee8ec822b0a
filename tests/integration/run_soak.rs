//! Soak check of the process-lifetime promises (control.md §9) with budgets and limits in force:
//! 20 runs of a workflow of shell and headless (fake agent) steps, each SIGKILLed at a random
//! moment. After each kill, within 2 s (`process_lifetime::GONE_WITHIN`) no process started by the run is alive (the watchdog
//! included); then one `--resume` takes the run to completion, and no step whose success was
//! recorded ever started again. Side-effect counters (one line per step per finished body)
//! show that every step ran to its end at least once and never more often than it started.
//! The moments come from a seeded generator: a failure prints its seed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process_lifetime::all_gone_within;
use crate::run_crash::{Rng, starts_never_after_success};
use crate::run_support::{Run, runs};
use crate::test::{ALL_CLIS, Test};

const WORKFLOW: &str = r#"name: soak
budget: { max_tokens: 100000000 }
steps:
  - id: prepare
    command: sleep 0.1; echo "$AGENT_RUNNER_STEP" >> log.txt
    timeout: 1m
  - id: explore
    mode: headless
    prompt: Explore.
    timeout: 1m
  - id: build
    command: sleep 0.15; echo "$AGENT_RUNNER_STEP" >> log.txt
  - id: review
    steps:
      - id: check
        mode: headless
        prompt: Check.
      - id: note
        command: echo "$AGENT_RUNNER_STEP" >> log.txt
  - id: finish
    command: sleep 0.05; echo "$AGENT_RUNNER_STEP" >> log.txt
"#;

/// Every step's audit path.
const STEPS: [&str; 5] = ["prepare", "explore", "build", "review/check", "review/note"];
const LAST: &str = "finish";

const RUNS: u64 = 20;
/// Parallel workers (each its own temp dirs); CI has 2 cores.
const WORKERS: u64 = 2;

fn soak_test() -> Test {
    // Every agent turn sleeps in a child of its own, then records its step and answers.
    let turn = "- [{sh: \"sleep 0.2; echo $AGENT_RUNNER_STEP >> log.txt\"}, {text: ok}]\n";
    Test::new()
        .fake_clis(ALL_CLIS)
        .workflow("soak", WORKFLOW)
        .fake_script(&turn.repeat(16))
        .project_config("kill_grace: 1s\n")
}

/// Every event of a run's audit log that parses (a kill may cut the last line).
fn audit(run: &Run) -> Vec<Value> {
    std::fs::read_to_string(run.dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn has_state(run: &Run) -> bool {
    run.dir.join("state.json").exists()
}

/// The run's durable state: the journal's last record while there is one (a run killed before
/// its end compaction), else state.json.
fn durable_state(run: &Run) -> Value {
    let journal = std::fs::read_to_string(run.dir.join("journal.jsonl")).unwrap_or_default();
    journal
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| run.state())
}

/// How a kill went: the runner was killed, or the run had already ended by itself.
enum Kill {
    Killed(Test),
    Ended(Test),
}

/// Kills the runner at a random moment of its run; asserts that the run's processes are gone
/// within [`GONE_WITHIN`].
fn kill_at_random(test: Test, rng: &mut Rng, window_ms: u64, seed: u64) -> Kill {
    let marker = test.path().display().to_string();
    let mut running = test.spawn();
    let deadline = Instant::now() + Duration::from_millis(20 + rng.below(window_ms));
    while Instant::now() < deadline && running.try_status().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    if running.try_status().is_some() {
        let out = running.finish(Duration::from_secs(5));
        assert_eq!(out.status, 0, "seed {seed}: {}", out.stderr);
        return Kill::Ended(out.again());
    }
    let test = running.kill_keeping_env();
    all_gone_within(&marker, Instant::now(), &format!("seed {seed}: "));
    Kill::Killed(test)
}

/// One soak run: kill, resume to the end, check. `true` when the kill hit a live runner.
fn soak_once(seed: u64, window_ms: u64) -> bool {
    let mut rng = Rng(seed);
    let test = soak_test().arg("soak");
    let test = match kill_at_random(test, &mut rng, window_ms, seed) {
        Kill::Killed(test) => test,
        Kill::Ended(ended) => {
            check(&ended, seed);
            return false;
        }
    };
    // A runner killed after its final state write has nothing left to do.
    let all = runs(test.path());
    if all
        .iter()
        .any(|run| has_state(run) && durable_state(run)["completed"] == true)
    {
        check(&test, seed);
        return true;
    }
    // A runner killed before its first state write left nothing to resume: start again.
    let started = all.iter().any(has_state);
    let test = if started {
        test.args(["--resume"])
    } else {
        test.arg("soak")
    };
    let out = test.spawn().finish(Duration::from_secs(60));
    assert_eq!(out.status, 0, "seed {seed}: {}", out.stderr);
    check(&out.again(), seed);
    true
}

/// No completed step started again; every step finished its body at least once, and never more
/// often than it started (a kill between a step's durable end and its held `step_end` may leave
/// a success out of the audit log, which is not the durable record: that is not checked).
fn check(test: &Test, seed: u64) {
    let with_state: Vec<Run> = runs(test.path()).into_iter().filter(has_state).collect();
    assert_eq!(with_state.len(), 1, "seed {seed}");
    let run = &with_state[0];
    assert_eq!(durable_state(run)["status"], "completed", "seed {seed}");
    let starts = starts_never_after_success(&audit(run), seed);
    let log = std::fs::read_to_string(test.project().join("log.txt")).unwrap_or_default();
    let mut done: BTreeMap<&str, u64> = BTreeMap::new();
    for line in log.lines() {
        *done.entry(line.trim()).or_default() += 1;
    }
    for step in STEPS.iter().chain([&LAST]) {
        let ran = done.get(step).copied().unwrap_or(0);
        let started = u64::from(starts.get(*step).copied().unwrap_or(0));
        assert!(
            ran >= 1 && ran <= started,
            "seed {seed}: {step} finished its body {ran} times in {started} starts\n{log}"
        );
    }
}

#[test]
fn sigkilled_runs_leave_no_process_and_resume_without_rerunning_completed_steps() {
    // The window: one uninterrupted run here, so the kills land anywhere in a run.
    let start = Instant::now();
    let out = soak_test().arg("soak").run();
    let window_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(2000);
    assert!(out.stderr.contains("completed"), "{}", out.stderr);
    let base = std::env::var("AGENT_RUNNER_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    // 20 kills that hit a live runner: a run that ended before its kill moment does not count,
    // and shrinks the window (the first run, measured cold, may be slower than the others).
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            scope.spawn(move || {
                let share = RUNS / WORKERS;
                let mut window = window_ms;
                let mut landed = 0;
                let mut attempt: u64 = 0;
                while landed < share {
                    attempt += 1;
                    assert!(
                        attempt <= 4 * share,
                        "only {landed} of {attempt} kills hit a live runner"
                    );
                    let i = worker * 1000 + attempt;
                    let seed = base.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
                    if soak_once(seed, window) {
                        landed += 1;
                    } else {
                        window = (window * 2 / 3).max(40);
                    }
                }
            });
        }
    });
}
