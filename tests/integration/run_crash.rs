//! Crash consistency: SIGKILL the runner at random moments, resume until the run completes, and
//! check from the audit log that no step whose success was recorded ever ran again, and that
//! every step's side effect happened. The moments come from a seeded generator, so a failure
//! can be replayed with the seed it prints.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

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
const STEPS: [&str; 12] = [
    "a", "l[0]/b", "l[0]/g/c", "l[1]/b", "l[1]/g/c", "l[2]/b", "l[2]/g/c", "s/m[0]/p", "s/m[1]/p",
    "s/q", "z", "",
];

/// Runs of the workflow, and kills per run before a resume may finish.
const TRIALS: u32 = 8;
const KILLS: u32 = 4;

/// xorshift64*: a small seeded generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn crash_test() -> Test {
    Test::new()
        .write(&wf("crash"), ROOT)
        .write(".agent-runner/workflows/sub.yaml", SUB)
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

/// Kills the runners after random delays below `window_ms`: up to `KILLS` times, with
/// `--resume` after each, then lets a resume finish. Returns the test (for its temp dir) and how
/// many kills hit a live runner.
fn crash_until_done(rng: &mut Rng, seed: u64, window_ms: u64) -> (Test, u32) {
    let mut test = crash_test();
    let mut kills = 0;
    for attempt in 0..=KILLS {
        let mut running = test.spawn();
        if attempt == KILLS {
            let out = running.finish(Duration::from_secs(20));
            return (out.then(), kills);
        }
        let deadline = Instant::now() + Duration::from_millis(rng.below(window_ms));
        while Instant::now() < deadline && running.try_status().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(status) = running.try_status() {
            let out = running.finish(Duration::from_secs(1));
            assert_eq!(
                status, 0,
                "seed {seed}: run ended with {status}:\n{}",
                out.stderr
            );
            return (out.then(), kills);
        }
        test = running.kill();
        kills += 1;
        let all = runs(test.path());
        if all
            .iter()
            .any(|run| has_state(run) && run.state()["completed"] == true)
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

fn has_state(run: &Run) -> bool {
    run.dir.join("state.json").exists()
}

#[test]
fn sigkill_at_random_moments_never_reruns_a_recorded_success() {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let window_ms = kill_window_ms();
    let mut total_kills = 0;
    for trial in 0..TRIALS {
        let seed = rng.0;
        let (test, kills) = crash_until_done(&mut rng, seed, window_ms);
        total_kills += kills;
        // Runs killed before their first state write hold nothing; exactly one run has state.
        let mut with_state: Vec<Run> = runs(test.path()).into_iter().filter(has_state).collect();
        assert_eq!(with_state.len(), 1, "seed {seed} trial {trial}");
        let run = with_state.remove(0);
        let state = run.state();
        assert_eq!(state["status"], "completed", "seed {seed} trial {trial}");
        assert_eq!(state["completed"], true);

        let log = std::fs::read_to_string(test.project().join("log.txt")).unwrap();
        let ran: BTreeSet<&str> = log.lines().collect();
        let expected: BTreeSet<&str> = STEPS.iter().copied().filter(|s| !s.is_empty()).collect();
        assert_eq!(ran, expected, "seed {seed} trial {trial}: side effects");

        // After a recorded success, the same step (same path, same iteration) never starts again.
        let mut succeeded = BTreeSet::new();
        let mut starts: BTreeMap<String, u32> = BTreeMap::new();
        for event in run.audit() {
            let path = event["path"].as_str().unwrap_or("").to_owned();
            match event["event"].as_str() {
                Some("step_start") => {
                    assert!(
                        !succeeded.contains(&path),
                        "seed {seed} trial {trial}: {path} ran again after its success was recorded"
                    );
                    *starts.entry(path).or_default() += 1;
                }
                Some("step_end") if event["data"]["outcome"] == "success" => {
                    succeeded.insert(path);
                }
                _ => {}
            }
        }
        // Each side effect has a step_start behind it (appends come only from started steps).
        for line in log.lines() {
            assert!(
                starts.contains_key(line),
                "seed {seed}: {line} ran without a step_start"
            );
        }
        for path in &expected {
            let count = log.lines().filter(|l| l == path).count() as u32;
            assert!(
                count <= starts[*path],
                "seed {seed}: {path} ran {count} times"
            );
        }
    }
    assert!(
        total_kills >= TRIALS * KILLS / 2,
        "only {total_kills} kills in a window of {window_ms} ms: the delays never hit a run"
    );
}
