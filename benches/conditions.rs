//! Conditions (control.md §6): what a `when:` costs.
//!
//! - Evaluating one compiled `when` against a scope with parameters, a JSON capture and step
//!   results, in process. Target: median under 50 µs.
//! - `--validate` of a generated 1000-step workflow with a `when` on every step, against the same
//!   workflow without them, in the same run. Target: at most 1.5×. The `when` of the target row
//!   has four clauses (a parameter, a capture, a step outcome, a number); a second row, for
//!   information, has the two-clause kind the built-in workflows use: the YAML parser reads every
//!   character of a condition, so the cost grows with its text.
//!
//! Run with `cargo bench --bench conditions`; it prints the medians and the ratio.

#![expect(
    clippy::expect_used,
    reason = "a benchmark should stop at the first setup failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_runner::exec::condition::{CondScope, RunTotals, evaluate};
use agent_runner::state::{CaptureValue, Captures, StepResult};
use agent_runner::workflow::Condition;

const EVALUATIONS: usize = 20_000;
const RUNS: usize = 40;

fn main() {
    let eval = evaluation();
    println!(
        "when evaluation   median {:>8.2} µs (target: < 50 µs)",
        eval.as_secs_f64() * 1e6
    );
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), "plain", None);
    generate(dir.path(), "gated", Some(LONG_WHEN));
    generate(dir.path(), "short", Some(SHORT_WHEN));
    let [plain, gated, short] = medians(dir.path(), ["plain", "gated", "short"]);
    let ratio = |d: Duration| d.as_secs_f64() / plain.as_secs_f64();
    println!(
        "--validate plain  median {:>8.3} ms (1000 steps)",
        ms(plain)
    );
    println!(
        "--validate gated  median {:>8.3} ms (the same, a when on every step)",
        ms(gated)
    );
    println!("ratio             {:.2}x (target: <= 1.5x)", ratio(gated));
    println!(
        "--validate short  median {:>8.3} ms (a two-clause when on every step): {:.2}x",
        ms(short),
        ratio(short)
    );
}

/// The `when` of the target row (`{n}` is the step's number, so that no two are the same).
const LONG_WHEN: &str =
    "mode == \"full\" && out0 != \"\" && steps[\"shell-0\"].outcome != \"failed\" && {n} > 0";
/// The informational row's: the size of the built-in workflows' conditions.
const SHORT_WHEN: &str = "out0 != \"fail\" || {n} > 0";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median time of one evaluation, in batches of 100.
fn evaluation() -> Duration {
    let condition = Condition::parse(
        "review.verdict == \"fail\" && size(review.issues) > 0 && steps[\"flaky-tests\"].outcome != \"success\" && params.mode == \"full\" && run.cost_usd < 5.0",
    )
    .expect("the expression compiles");
    let params: BTreeMap<String, String> = [("mode".to_owned(), "full".to_owned())].into();
    let captures: Captures = [(
        "review".to_owned(),
        CaptureValue::Json(serde_json::json!({
            "verdict": "fail",
            "issues": ["the parser drops comments", "no test for empty input"],
            "confidence": 0.8
        })),
    )]
    .into();
    let capture_names: BTreeSet<String> = ["review".to_owned()].into();
    let mut steps = BTreeMap::new();
    for id in ["build", "flaky-tests", "lint", "review"] {
        steps.insert(
            id.to_owned(),
            StepResult {
                outcome: "failed".to_owned(),
                exit_code: Some(1),
                ..StepResult::default()
            },
        );
    }
    let scope = CondScope {
        params: &params,
        captures: &captures,
        capture_names: &capture_names,
        loop_vars: &[],
        steps: &steps,
        run: RunTotals {
            id: "bench-1",
            cost_usd: 1.25,
            tokens: 120_000,
        },
    };
    assert_eq!(evaluate(&condition, "when", &scope).ok(), Some(true));
    let mut batches = Vec::new();
    for _ in 0..EVALUATIONS / 100 {
        let start = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(evaluate(&condition, "when", &scope).ok());
        }
        batches.push(start.elapsed() / 100);
    }
    batches.sort();
    batches[batches.len() / 2]
}

/// A 1000-step workflow of shell steps with captures, loops and groups; with `when`, every step
/// gets that condition, numbered. No two expressions are the same, so nothing the parser or the
/// runner could cache makes the figure look better.
fn generate(project: &Path, name: &str, when: Option<&str>) {
    let workflows = project.join(".agent-runner/workflows");
    std::fs::create_dir_all(&workflows).expect("create dirs");
    let mut text = format!(
        "name: {name}\nparams: [change, {{name: mode, default: full}}]\nsteps:\n  - id: first\n    command: echo start\n    capture: out0\n"
    );
    let when = |n: usize, indent: &str| match when {
        Some(expression) => format!(
            "{indent}when: {}\n",
            expression.replace("{n}", &n.to_string())
        ),
        None => String::new(),
    };
    let mut n = 1;
    text.push_str("  - id: shell-0\n    command: echo 0\n");
    while n < 999 {
        if n % 10 == 1 {
            text.push_str(&format!(
                "  - id: loop-{n}\n{}    loop: {{max: 3, as_index: i{n}}}\n    steps:\n      - id: test-{n}\n{}        command: cargo test -- {{{{change}}}} {{{{i{n}}}}}\n        capture: out{n}\n        continue_on_failure: true\n        break_if: success\n",
                when(n, "    "),
                when(n + 1, "        ")
            ));
            n += 2;
        } else {
            text.push_str(&format!(
                "  - id: shell-{n}\n{}    command: echo step {n} {{{{change}}}}\n",
                when(n, "    ")
            ));
            n += 1;
        }
    }
    std::fs::write(workflows.join(format!("{name}.yaml")), text).expect("write workflow");
    let status = Command::new(env!("CARGO_BIN_EXE_agent-runner"))
        .args(["--validate", name])
        .current_dir(project)
        .env("AGENT_RUNNER_HOME", project.join("home"))
        .stdout(Stdio::null())
        .status()
        .expect("run agent-runner");
    assert!(status.success(), "the generated workflow {name} is valid");
}

/// The median times of `--validate` of each workflow, measured interleaved (one run of each in
/// turn), so that the machine's drift weighs on all of them alike.
fn medians<const N: usize>(project: &Path, names: [&str; N]) -> [Duration; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(RUNS));
    for _ in 0..RUNS {
        for (name, times) in names.iter().zip(times.iter_mut()) {
            let start = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_agent-runner"))
                .args(["--validate", name])
                .current_dir(project)
                .env("AGENT_RUNNER_HOME", project.join("home"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run agent-runner");
            assert!(status.success());
            times.push(start.elapsed());
        }
    }
    times.map(|mut times| {
        times.sort();
        times[times.len() / 2]
    })
}
