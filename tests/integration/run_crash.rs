//! Crash consistency: SIGKILL the runner 200 times at random moments, resume until each run
//! completes, and check from the side effects and the audit log that no step whose success was
//! recorded ever ran again, and that every step's side effect happened. Half the kills come from
//! the debug-build hook that kills the runner right after its n-th journal append, before that
//! record's flush (the window between reporting a change and making it durable); the others
//! land at random instants. The moments come from a seeded generator, so a failure can be
//! replayed with the seed it prints. Half the runs fold their journal into state.json every
//! couple of records, so kills also land inside those compactions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run_support::{Run, runs, wf};
use crate::test::Test;

const ROOT: &str = r#"name: crash
steps:
  - id: a
    command: echo "$AGENT_RUNNER_STEP" >> log.txt
  - id: l
    loop: {max: 3}
    steps:
      - id: b
        command: echo "$AGENT_RUNNER_STEP" >> log.txt
      - id: g
        steps:
          - id: c
            command: echo "$AGENT_RUNNER_STEP" >> log.txt
  - id: s
    workflow: sub.yaml
  - id: e
    loop: {over: "items/*", as: item}
    steps:
      - id: x
        command: echo "$AGENT_RUNNER_STEP" >> log.txt
  - id: z
    command: echo "$AGENT_RUNNER_STEP" >> log.txt
"#;

const SUB: &str = r#"name: sub
steps:
  - id: m
    loop: {max: 2}
    steps:
      - id: p
        command: echo "$AGENT_RUNNER_STEP" >> log.txt
  - id: q
    command: echo "$AGENT_RUNNER_STEP" >> log.txt
"#;

/// Every shell step of one complete run, by audit path.
const STEPS: [&str; 15] = [
    "a", "l[0]/b", "l[0]/g/c", "l[1]/b", "l[1]/g/c", "l[2]/b", "l[2]/g/c", "s/m[0]/p", "s/m[1]/p",
    "s/q", "e[0]/x", "e[1]/x", "e[2]/x", "z", "",
];

/// Kills in total, shared by parallel workers (each its own temp dirs).
const TOTAL_KILLS: u32 = 200;
const WORKERS: u32 = 4;
/// Kills per run before a resume may finish.
const KILLS: u32 = 5;

/// xorshift64*: a small seeded generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn crash_test() -> Test {
    Test::new()
        .write(&wf("crash"), ROOT)
        .write(".agent-runner/workflows/sub.yaml", SUB)
        .write("items/1", "")
        .write("items/2", "")
        .write("items/3", "")
        .args(["crash"])
}

/// The window the kill delays are drawn from: half the time of one uninterrupted run here, so
/// the kills land inside the runs however fast this machine and this build are.
fn kill_window_ms() -> u64 {
    let start = Instant::now();
    crash_test().run();
    let run_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    (run_ms / 2).max(20)
}

/// The run's durable state as every reader sees it: the journal's last record while there is
/// one (a run killed before its end compaction), else state.json.
fn durable_state(run: &Run) -> Option<Value> {
    let journal = std::fs::read_to_string(run.dir.join("journal.jsonl")).unwrap_or_default();
    let last = journal
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok());
    last.or_else(|| has_state(run).then(|| run.state()))
}

/// Waits for the runner to exit by itself (the kill hook) or kills it after a random delay.
/// `Ok` when it died by a signal, `Err` when it ended on its own (the run completed).
fn kill_once(
    test: Test,
    rng: &mut Rng,
    seed: u64,
    window_ms: u64,
    hook: bool,
) -> Result<Test, Box<Test>> {
    let test = if hook {
        // Up to about one process's worth of appends: most hooks fire.
        let n = 1 + rng.below(24);
        test.env("AGENT_RUNNER_DEBUG_KILL_AFTER_APPEND", &n.to_string())
    } else {
        test
    };
    let mut running = test.spawn();
    let limit = if hook {
        Duration::from_secs(20)
    } else {
        Duration::from_millis(rng.below(window_ms))
    };
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && running.try_status().is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    match running.try_status() {
        // Killed by the hook (a signal has no exit code).
        Some(-1) => Ok(running.kill()),
        Some(status) => {
            let out = running.finish(Duration::from_secs(1));
            assert_eq!(
                status, 0,
                "seed {seed}: run ended with {status}:\n{}",
                out.stderr
            );
            Err(Box::new(out.then()))
        }
        None => Ok(running.kill()),
    }
}

/// Kills the runner up to `KILLS` times, with `--resume` after each, then lets a resume finish.
/// Returns the test (for its temp dir) and how many kills hit a live runner.
fn crash_until_done(rng: &mut Rng, seed: u64, window_ms: u64) -> (Test, u32) {
    // Half the runs fold their journal into state.json every couple of records (the debug
    // build's threshold), so kills land inside those compactions too.
    let compacting = rng.below(2) == 0;
    let setup = |test: Test| {
        if compacting {
            test.env("AGENT_RUNNER_DEBUG_COMPACT_AT", "2000")
        } else {
            test
        }
    };
    let mut test = crash_test();
    let mut kills = 0;
    for attempt in 0..=KILLS {
        if attempt == KILLS {
            let out = setup(test).spawn().finish(Duration::from_secs(30));
            return (out.then(), kills);
        }
        test = match kill_once(setup(test), rng, seed, window_ms, attempt % 2 == 0) {
            Ok(test) => test,
            Err(done) => return (*done, kills),
        };
        kills += 1;
        wait_for_locks(&test);
        let all = runs(test.path());
        if all
            .iter()
            .any(|run| durable_state(run).is_some_and(|s| s["completed"] == true))
        {
            // Killed after the final state was written but before the exit.
            return (test, kills);
        }
        // Killed before the first state was written: start again; otherwise resume.
        test = if all.iter().any(has_state) {
            test.args(["--resume"])
        } else {
            test.args(["crash"])
        };
    }
    unreachable!("the last attempt always returns")
}

/// Waits until no run's lock is held any more. A killed runner's lock goes with its last
/// thread, and a thread inside `fdatasync` on a busy disk can outlive the reaping of the
/// process by a moment; the next `--resume` must not race it.
fn wait_for_locks(test: &Test) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for run in runs(test.path()) {
        let Ok(file) = std::fs::File::open(run.dir.join("lock")) else {
            continue;
        };
        while file.try_lock().is_err() {
            assert!(
                Instant::now() < deadline,
                "a killed runner's lock stayed held"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn has_state(run: &Run) -> bool {
    run.dir.join("state.json").exists()
}

/// No completed step ran twice, none was lost: checked on what one crashed and resumed run
/// left behind.
fn check_run(test: &Test, seed: u64) {
    // Runs killed before their first state write hold nothing; exactly one run has state.
    let mut with_state: Vec<Run> = runs(test.path()).into_iter().filter(has_state).collect();
    assert_eq!(with_state.len(), 1, "seed {seed}");
    let run = with_state.remove(0);
    let state = durable_state(&run).unwrap_or_default();
    assert_eq!(state["status"], "completed", "seed {seed}");
    assert_eq!(state["completed"], true);

    let log = std::fs::read_to_string(test.project().join("log.txt")).unwrap();
    let ran: BTreeSet<&str> = log.lines().collect();
    let expected: BTreeSet<&str> = STEPS.iter().copied().filter(|s| !s.is_empty()).collect();
    assert_eq!(
        ran, expected,
        "seed {seed}: side effects (a completed step was lost)"
    );

    // After a recorded success, the same step (same path, same iteration) never starts again.
    let starts = starts_never_after_success(&run.audit(), seed);
    // Each side effect has a step_start behind it (appends come only from started steps), and
    // a step ran more often than it started only if a start was lost with its record.
    for path in &expected {
        let count = log.lines().filter(|l| l == path).count() as u32;
        assert!(
            starts.contains_key(*path),
            "seed {seed}: {path} ran without a step_start"
        );
        assert!(
            count <= starts[*path],
            "seed {seed}: {path} ran {count} times after {} starts",
            starts[*path]
        );
    }
}

/// How often each step path started, from a run's audit `events`; asserts that no step started
/// again after its success was recorded.
pub fn starts_never_after_success(events: &[Value], seed: u64) -> BTreeMap<String, u32> {
    let mut succeeded = BTreeSet::new();
    let mut starts: BTreeMap<String, u32> = BTreeMap::new();
    for event in events {
        let path = event["path"].as_str().unwrap_or("").to_owned();
        match event["event"].as_str() {
            Some("step_start") => {
                assert!(
                    !succeeded.contains(&path),
                    "seed {seed}: {path} ran again after its success was recorded"
                );
                *starts.entry(path).or_default() += 1;
            }
            Some("step_end") if event["data"]["outcome"] == "success" => {
                succeeded.insert(path);
            }
            _ => {}
        }
    }
    starts
}

/// One worker: crashed runs until it has landed its share of the kills.
fn worker(seed: u64, window_ms: u64, share: u32) -> u32 {
    let mut rng = Rng(seed);
    let mut kills = 0;
    let mut runs_without_kill = 0;
    while kills < share {
        let trial_seed = rng.0;
        let (test, landed) = crash_until_done(&mut rng, trial_seed, window_ms);
        check_run(&test, trial_seed);
        kills += landed;
        runs_without_kill = if landed == 0 {
            runs_without_kill + 1
        } else {
            0
        };
        assert!(
            runs_without_kill < 10,
            "ten runs without a kill in a window of {window_ms} ms: the kills never hit a run"
        );
    }
    kills
}

#[test]
fn sigkill_at_random_instants_never_reruns_or_loses_a_completed_step() {
    let window_ms = kill_window_ms();
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let seed = 0x5eed_cafe_f00d_0001 ^ (u64::from(i) << 32);
            std::thread::spawn(move || worker(seed, window_ms, TOTAL_KILLS / WORKERS))
        })
        .collect();
    let total: u32 = workers
        .into_iter()
        .map(|w| w.join().expect("crash worker"))
        .sum();
    assert!(total >= TOTAL_KILLS, "{total} kills");
}
