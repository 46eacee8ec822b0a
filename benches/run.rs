//! Run speed and memory (issue #3): what durable state costs a real run, measured end to end
//! through the release binary against baselines timed in the same run.
//!
//! 1. 500 `true` shell steps, against the same 500 `sh -c true` run by a plain shell loop
//!    (target ≤ 1.3×) and by `make` with 500 recipes (target ≤ 1.5×).
//! 2. `--resume` into iteration 9 999 of a 10 000-item for-each loop, which runs the last
//!    iteration and completes the run (target ≤ 10 ms); `--version` is the baseline.
//! 3. Peak RSS of the runner process itself over a 1000-step run (target ≤ 8 MiB), read from
//!    `VmHWM` in `/proc/<pid>/status` while it runs; `--version` is the baseline.
//!
//! The machine is shared, so every case interleaves its runs with its baseline's and reports
//! medians. Run with `cargo bench --bench run`; `RUN_BENCH_RUNS=<n>` changes the repetitions and
//! `RUN_BENCH_BIN=<path>` measures another build of agent-runner (an older one, for a before/after
//! comparison on the same machine state).
//! State goes to a temp dir on the same file system as `/tmp`, so its fsyncs are real.

#![expect(
    clippy::expect_used,
    reason = "a benchmark should stop at the first setup failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_runner::state::{FrameState, RunStatus, StateRoot};

const SHELL_LOOP: &str = "i=0; while [ $i -lt 500 ]; do sh -c true; i=$((i+1)); done";
/// Files matched by the for-each loop of the resume case.
const LOOP_ITEMS: usize = 10_000;

fn main() {
    let runs = std::env::var("RUN_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);
    let dir = tempfile::tempdir().expect("temp dir");
    let bench = Bench::new(dir.path());
    let mut rows = Vec::new();
    rows.extend(bench.steps_500(runs));
    rows.push(bench.resume_last_iteration(runs * 3));
    rows.push(bench.peak_rss(runs.min(5)));
    print_table(&rows);
}

/// One line of the result table.
struct Row {
    case: &'static str,
    runner: String,
    baseline: String,
    ratio: f64,
    target: &'static str,
    pass: bool,
}

struct Bench {
    /// Project dirs (one per case) and `AGENT_RUNNER_HOME` live under here.
    root: PathBuf,
    /// The agent-runner binary measured.
    runner: PathBuf,
}

impl Bench {
    fn new(root: &Path) -> Self {
        let runner = std::env::var_os("RUN_BENCH_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_agent-runner")),
            PathBuf::from,
        );
        Bench {
            root: root.to_path_buf(),
            runner,
        }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// A project dir with `.agent-runner/workflows/<name>.yaml`.
    fn project(&self, name: &str, workflow: &str) -> PathBuf {
        let project = self.root.join(name);
        let workflows = project.join(".agent-runner/workflows");
        fs::create_dir_all(&workflows).expect("create project");
        fs::write(workflows.join(format!("{name}.yaml")), workflow).expect("write workflow");
        project
    }

    /// `agent-runner <args>` in `project`, output discarded.
    fn runner(&self, project: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.runner);
        command
            .args(args)
            .current_dir(project)
            .env("AGENT_RUNNER_HOME", self.home())
            .env("HOME", &self.root);
        command
    }

    /// Case 1: 500 `true` steps against a shell loop and a Makefile doing the same.
    fn steps_500(&self, runs: usize) -> [Row; 2] {
        let project = self.project("steps", &shell_steps_workflow("steps", 500));
        let makefile = project.join("Makefile");
        fs::write(&makefile, makefile_text(500)).expect("write Makefile");
        let mut runner = Vec::new();
        let mut shell = Vec::new();
        let mut make = Vec::new();
        for _ in 0..runs {
            runner.push(time(&mut self.runner(&project, &["steps"])));
            shell.push(time(Command::new("sh").args(["-c", SHELL_LOOP])));
            make.push(time(
                Command::new("make")
                    .arg("-s")
                    .arg("-f")
                    .arg(&makefile)
                    .current_dir(&project),
            ));
        }
        let runner = median(runner);
        [
            timed_row(
                "500 shell steps vs sh loop",
                runner,
                median(shell),
                1.3,
                "<= 1.3x",
            ),
            timed_row(
                "500 shell steps vs make",
                runner,
                median(make),
                1.5,
                "<= 1.5x",
            ),
        ]
    }

    /// Case 2: `--resume` into the last iteration of a 10 000-item for-each loop.
    ///
    /// The run is made by letting iteration 0 fail (a marker file), then moving its loop frame to
    /// iteration 9 999 through the state API. Every timed resume starts from a copy of that
    /// state and audit log, so each one does the same work: reload, run one iteration, finish.
    fn resume_last_iteration(&self, runs: usize) -> Row {
        let workflow = "name: each\nsteps:\n  - id: items\n    loop: {over: \"items/*\", as: item}\n    steps:\n      - id: touch\n        command: test ! -e fail\n";
        let project = self.project("each", workflow);
        let items = project.join("items");
        fs::create_dir_all(&items).expect("create items");
        for i in 0..LOOP_ITEMS {
            fs::write(items.join(format!("{i:05}")), b"").expect("write item");
        }
        fs::write(project.join("fail"), b"").expect("write marker");
        let status = quiet(&mut self.runner(&project, &["each"]))
            .status()
            .expect("run agent-runner");
        assert_eq!(status.code(), Some(1), "the first run must fail at item 0");
        fs::remove_file(project.join("fail")).expect("remove marker");

        let real = project.canonicalize().expect("project path");
        let run = StateRoot::new(self.home())
            .project(&real)
            .expect("project state")
            .newest_resumable()
            .expect("the failed run")
            .run;
        let mut doc = run.read_state().expect("read state");
        let frame = doc.position.as_mut().expect("a position");
        let looped = frame.loop_.as_mut().expect("a loop frame");
        assert_eq!(looped.items.as_ref().map(Vec::len), Some(LOOP_ITEMS));
        looped.iteration = LOOP_ITEMS as u64 - 1;
        assert_eq!(
            frame.child.as_ref().map(|c| c.state),
            Some(FrameState::Failed)
        );
        assert_eq!(doc.status, RunStatus::Failed);
        run.write_state(&doc).expect("write state");
        let saved = [run.state_path(), run.audit_path()].map(|path| {
            let bytes = fs::read(&path).expect("read run file");
            (path, bytes)
        });

        let id = run.id().to_owned();
        let mut resume = Vec::new();
        let mut version = Vec::new();
        for _ in 0..runs {
            for (path, bytes) in &saved {
                fs::write(path, bytes).expect("restore run file");
            }
            let mut command = self.runner(&project, &["--resume", &id]);
            let start = Instant::now();
            let status = quiet(&mut command).status().expect("run agent-runner");
            resume.push(start.elapsed());
            assert!(status.success(), "the resume must complete the run");
            version.push(time(&mut self.runner(&project, &["--version"])));
        }
        let resume = median(resume);
        let version = median(version);
        Row {
            case: "resume at iteration 9999/10000",
            runner: format!("{:.2} ms", ms(resume)),
            baseline: format!("{:.2} ms (--version)", ms(version)),
            ratio: ms(resume) / ms(version),
            target: "<= 10 ms",
            pass: ms(resume) <= 10.0,
        }
    }

    /// Case 3: the runner's own peak RSS over a 1000-step run.
    fn peak_rss(&self, runs: usize) -> Row {
        let project = self.project("rss", &shell_steps_workflow("rss", 1000));
        let mut runner = Vec::new();
        let mut version = Vec::new();
        for _ in 0..runs {
            runner.push(peak_rss_kib(&mut self.runner(&project, &["rss"])));
            version.push(peak_rss_kib(&mut self.runner(&project, &["--version"])));
        }
        let runner = median(runner) as f64 / 1024.0;
        let version = median(version) as f64 / 1024.0;
        Row {
            case: "peak RSS, 1000 shell steps",
            runner: format!("{runner:.2} MiB"),
            baseline: format!("{version:.2} MiB (--version)"),
            ratio: runner / version,
            target: "<= 8 MiB",
            pass: runner <= 8.0,
        }
    }
}

fn timed_row(
    case: &'static str,
    runner: Duration,
    baseline: Duration,
    limit: f64,
    target: &'static str,
) -> Row {
    let ratio = runner.as_secs_f64() / baseline.as_secs_f64();
    Row {
        case,
        runner: format!("{:.0} ms", ms(runner)),
        baseline: format!("{:.0} ms", ms(baseline)),
        ratio,
        target,
        pass: ratio <= limit,
    }
}

fn shell_steps_workflow(name: &str, steps: usize) -> String {
    let mut text = format!("name: {name}\nsteps:\n");
    for i in 0..steps {
        text.push_str(&format!("  - id: s{i}\n    command: \"true\"\n"));
    }
    text
}

fn makefile_text(recipes: usize) -> String {
    let names: Vec<String> = (0..recipes).map(|i| format!("t{i}")).collect();
    let mut text = format!(".PHONY: all {0}\nall: {0}\n", names.join(" "));
    for name in &names {
        text.push_str(&format!("{name}:\n\tsh -c true\n"));
    }
    text
}

fn quiet(command: &mut Command) -> &mut Command {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

/// Wall time of one successful run of `command`.
fn time(command: &mut Command) -> Duration {
    let start = Instant::now();
    let status = quiet(command).status().expect("spawn");
    let elapsed = start.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}

/// Runs `command` and polls its `VmHWM` (peak resident set, KiB) until it exits. The value only
/// grows, so the last reading before exit is the peak, give or take the last poll interval.
fn peak_rss_kib(command: &mut Command) -> u64 {
    let mut child = quiet(command).spawn().expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{command:?} failed");
            return peak;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<32} {:>14} {:>24} {:>7} {:>9}  result",
        "case", "agent-runner", "baseline", "ratio", "target"
    );
    for row in rows {
        println!(
            "{:<32} {:>14} {:>24} {:>6.2}x {:>9}  {}",
            row.case,
            row.runner,
            row.baseline,
            row.ratio,
            row.target,
            if row.pass { "pass" } else { "FAIL" }
        );
    }
    println!("medians of interleaved runs on a shared machine; expect noise between runs");
}
