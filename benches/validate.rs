//! `--validate` speed: a generated 1000-step workflow calling 20 sub-workflows, against
//! `--version` in the same run. Target: median ≤ 5 ms and ≤ 2× `--version`.
//!
//! Run with `cargo bench --bench validate`; it prints the medians and the ratio.

#![expect(
    clippy::expect_used,
    reason = "a benchmark should stop at the first setup failure"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 60;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path());
    let version = median(dir.path(), &["--version"]);
    let validate = median(dir.path(), &["--validate", "big"]);
    let ratio = validate.as_secs_f64() / version.as_secs_f64();
    println!("--version   median {:>8.3} ms", ms(version));
    println!(
        "--validate  median {:>8.3} ms (1000 steps + 20 sub-workflows)",
        ms(validate)
    );
    println!("ratio       {ratio:.2}x (target: <= 5 ms and <= 2x)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The workflow: groups, loops, agent and shell steps with templates, and 20 sub-workflow calls.
fn generate(project: &Path) {
    let workflows = project.join(".agent-runner/workflows");
    std::fs::create_dir_all(workflows.join("subs")).expect("create dirs");
    let mut text = String::from(
        "name: big\ndescription: generated\nparams: [change, {name: base, default: main}]\nsteps:\n",
    );
    let mut count = 0;
    let mut sub = 0;
    while count < 1000 {
        let n = count;
        match n % 10 {
            0 if sub < 20 => {
                text.push_str(&format!(
                    "  - id: call-{n}\n    workflow: subs/sub{sub}.yaml\n    params: {{topic: \"{{{{change}}}}\"}}\n"
                ));
                sub += 1;
                count += 1;
            }
            1 => {
                text.push_str(&format!(
                    "  - id: loop-{n}\n    loop: {{max: 3, as_index: i{n}}}\n    steps:\n      - id: test-{n}\n        command: cargo test -- {{{{change}}}} {{{{i{n}}}}}\n        capture: out{n}\n        continue_on_failure: true\n        break_if: success\n      - id: fix-{n}\n        mode: headless\n        prompt: \"Fix: {{{{out{n}}}}}\"\n"
                ));
                count += 3;
            }
            2 => {
                text.push_str(&format!(
                    "  - id: agent-{n}\n    prompt: |\n      Work on {{{{change}}}} against {{{{base}}}}.\n      Keep it small.\n    session: new\n"
                ));
                count += 1;
            }
            _ => {
                text.push_str(&format!("  - id: shell-{n}\n    command: echo step {n}\n"));
                count += 1;
            }
        }
    }
    std::fs::write(workflows.join("big.yaml"), text).expect("write big.yaml");
    for s in 0..20 {
        let mut sub = format!("name: sub{s}\nparams: [topic]\nsteps:\n");
        for i in 0..10 {
            sub.push_str(&format!(
                "  - id: s{i}\n    command: echo {{{{topic}}}} {i}\n"
            ));
        }
        std::fs::write(workflows.join(format!("subs/sub{s}.yaml")), sub).expect("write sub");
    }
}

fn median(project: &Path, args: &[&str]) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_agent-runner"))
                .args(args)
                .current_dir(project)
                .env("HOME", project)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run agent-runner");
            let elapsed = start.elapsed();
            assert!(status.success(), "agent-runner {args:?} failed");
            elapsed
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}
