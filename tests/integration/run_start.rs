//! Starting many runs at once never loses one: every process gets its own run id and run dir,
//! whatever the others do at the same instant (two runs started in the same second draw their id
//! suffix from only 65 536 values, and the first runs of a project race to create its state dir).
//!
//! `AGENT_RUNNER_STRESS_ROUNDS` raises the number of rounds for a longer check.

use std::collections::BTreeSet;
use std::process::Child;

use crate::run_support::{runs, wf};
use crate::test::Test;

/// Processes started together in one round.
const AT_ONCE: usize = 50;
/// Rounds in the short version `cargo test` runs.
const ROUNDS: usize = 3;

#[test]
fn fifty_runs_started_at_once_each_get_a_run_dir_and_succeed() {
    let rounds = std::env::var("AGENT_RUNNER_STRESS_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUNDS);
    let test = Test::new()
        .write(&wf("w"), "name: w\nsteps:\n  - {id: a, command: 'true'}\n")
        .arg("w");
    for round in 0..rounds {
        let children: Vec<Child> = (0..AT_ONCE)
            .map(|_| test.command().spawn().expect("spawn agent-runner"))
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait for agent-runner");
            assert!(
                out.status.success(),
                "round {round}: a run failed to start ({:?}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let all = runs(test.path());
    let ids: BTreeSet<String> = all.iter().map(|run| run.id()).collect();
    assert_eq!(all.len(), AT_ONCE * rounds);
    assert_eq!(ids.len(), AT_ONCE * rounds);
    for run in &all {
        let state = std::fs::read_to_string(run.dir.join("state.json")).expect("state.json");
        assert!(
            state.contains("\"status\": \"completed\""),
            "{}: {state}",
            run.id()
        );
    }
}
