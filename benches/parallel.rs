//! Parallel branches (issue #12), end to end through the release binary:
//!
//! 1. A parallel group of 8 branches that each run `sleep 1` ends within 1.15 s (the branches
//!    overlap; what the runner adds on top of one second is its own cost). A run of one
//!    `sleep 1` step is the baseline shown beside it.
//! 2. A for-each loop of 200 items running `true` with `max_parallel: 8` costs no more per item
//!    than the same loop run sequentially (target ratio ≤ 1.0).
//!
//! Every case interleaves its runs with its baseline's and reports medians. Run with
//! `cargo bench --bench parallel`; `RUN_BENCH_RUNS=<n>` changes the repetitions and
//! `RUN_BENCH_BIN=<path>` measures another build of agent-runner.

#![expect(
    clippy::expect_used,
    reason = "a benchmark should stop at the first setup failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ITEMS: usize = 200;

fn main() {
    let runs = std::env::var("RUN_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let runner = std::env::var_os("RUN_BENCH_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_agent-runner")),
        PathBuf::from,
    );
    let group = project(root, "group", &group_workflow(8));
    let one = project(
        root,
        "one",
        &group_workflow(1).replace("parallel: true\n    ", ""),
    );
    let (mut grouped, mut single) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        grouped.push(time(&runner, root, &group, "group"));
        single.push(time(&runner, root, &one, "one"));
    }
    let (grouped, single) = (median(grouped), median(single));
    println!(
        "{:<40} {:>10} {:>22} {:>7} {:>9}  result",
        "case", "runner", "baseline", "ratio", "target"
    );
    println!(
        "{:<40} {:>7.0} ms {:>13.0} ms (1 step) {:>6.2}x {:>9}  {}",
        "parallel group, 8 x sleep 1",
        ms(grouped),
        ms(single),
        grouped.as_secs_f64() / single.as_secs_f64(),
        "≤ 1150 ms",
        if grouped <= Duration::from_millis(1150) {
            "pass"
        } else {
            "FAIL"
        }
    );

    let parallel = project(root, "par", &loop_workflow(Some(8)));
    let sequential = project(root, "seq", &loop_workflow(None));
    for dir in [&parallel, &sequential] {
        let items = dir.join("items");
        fs::create_dir_all(&items).expect("items dir");
        for i in 0..ITEMS {
            fs::write(items.join(format!("{i:03}")), "").expect("item");
        }
    }
    let (mut par, mut seq) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        par.push(time(&runner, root, &parallel, "par"));
        seq.push(time(&runner, root, &sequential, "seq"));
    }
    let (par, seq) = (median(par), median(seq));
    let per_item = |d: Duration| ms(d) / ITEMS as f64;
    let ratio = par.as_secs_f64() / seq.as_secs_f64();
    println!(
        "{:<40} {:>4.2} ms/item {:>8.2} ms/item (seq) {:>6.2}x {:>9}  {}",
        "for-each 200 x true, max_parallel: 8",
        per_item(par),
        per_item(seq),
        ratio,
        "≤ 1.00x",
        if ratio <= 1.0 { "pass" } else { "FAIL" }
    );
}

fn group_workflow(branches: usize) -> String {
    let mut text = String::from("name: group\nsteps:\n  - id: g\n    parallel: true\n    steps:\n");
    for i in 0..branches {
        text.push_str(&format!("      - id: b{i}\n        command: sleep 1\n"));
    }
    text
}

fn loop_workflow(max_parallel: Option<usize>) -> String {
    // Both workflows are named after their project.
    let extra = max_parallel.map_or_else(String::new, |n| format!(", max_parallel: {n}"));
    format!(
        "name: loop\nsteps:\n  - id: each\n    loop: {{ over: \"items/*\", as: item{extra} }}\n    steps:\n      - id: t\n        command: \"true\"\n"
    )
}

/// A project dir with `.agent-runner/workflows/<name>.yaml`.
fn project(root: &Path, name: &str, workflow: &str) -> PathBuf {
    let project = root.join(name);
    let workflows = project.join(".agent-runner/workflows");
    fs::create_dir_all(&workflows).expect("create project");
    fs::write(workflows.join(format!("{name}.yaml")), workflow).expect("write workflow");
    project
}

/// How long `agent-runner <name>` takes in `project`; it must succeed.
fn time(runner: &Path, root: &Path, project: &Path, name: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new(runner)
        .args(["-q", name])
        .current_dir(project)
        .env("AGENT_RUNNER_HOME", root.join("home"))
        .env("HOME", root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run agent-runner");
    let elapsed = started.elapsed();
    assert!(status.success(), "{name} failed: {status}");
    elapsed
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
