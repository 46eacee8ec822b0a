//! Run speed and memory (issue #3): what durable state costs a real run, measured end to end
//! through the release binary against baselines timed in the same run.
//!
//! 1. 500 `true` shell steps, against the same 500 `sh -c true` run by a plain shell loop
//!    (target ≤ 1.3×) and by `make` with 500 recipes (target ≤ 1.5×).
//! 2. `--resume` into iteration 9 999 of a 10 000-item for-each loop, which runs the last
//!    iteration and completes the run (target ≤ 5 ms, issue 16; it was 10 ms before);
//!    `--version` is the baseline.
//! 3. Peak RSS of the runner process itself over a 1000-step run (target ≤ 8 MiB), read from
//!    `VmHWM` in `/proc/<pid>/status` while it runs; `--version` is the baseline.
//! 4. The 500-step run with the state root on disk against the same run with it on tmpfs
//!    (`/dev/shm`): what durability costs (target ≤ 1.15×).
//! 5. Bytes the runner writes per loop iteration (`wchar` of `/proc/<pid>/io`, the difference
//!    between stopping after more and fewer iterations) with a 10 000-item list against a
//!    10-item list (target ≤ 2×).
//! 6. `--resume` inside a 100 000-item loop against the same inside a 10-item loop (≤ 1.5×).
//! 7. `list` in a project with 1000 runs (target ≤ 5 ms); `--version` is the baseline.
//! 8. The 500-step run with `timeout` on every step and a run budget against the same run
//!    without them (target ≤ 1.05×): watches cost nothing measurable (`run/limits.rs`).
//!
//! The machine is shared, so every case interleaves its runs with its baseline's and reports
//! medians. Run with `cargo bench --bench run`; `RUN_BENCH_ONLY=<case number>` runs one case,
//! `RUN_BENCH_RUNS=<n>` changes the repetitions and
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

use agent_runner::state::{FrameState, ItemList, RunStatus, StateRoot};

#[path = "run/limits.rs"]
mod limits;

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
    let only = std::env::var("RUN_BENCH_ONLY").ok();
    let case = |n: &str| only.as_deref().is_none_or(|o| o == n);
    let mut rows = Vec::new();
    if case("1") {
        rows.extend(bench.steps_500(runs));
    }
    if case("2") {
        rows.push(bench.resume_last_iteration(runs * 3));
    }
    if case("3") {
        rows.push(bench.peak_rss(runs.min(5)));
    }
    if case("4") {
        rows.extend(bench.tmpfs_500(runs));
    }
    if case("5") {
        rows.push(bench.bytes_per_iteration());
    }
    if case("6") {
        rows.push(bench.resume_big_vs_small(runs * 3));
    }
    if case("7") {
        rows.push(bench.list_1000(runs * 3));
    }
    if case("8") {
        rows.push(bench.limits_500(runs));
    }
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
    /// iteration 9 999 through the state API and giving its audit log the 19 998 lines of the
    /// iterations before (8 MB, as a real run's). Every timed resume starts from a copy of that
    /// state and audit log, so each one does the same work: reload, run one iteration, finish.
    fn resume_last_iteration(&self, runs: usize) -> Row {
        let (resume, version) = self.resume_time("each", LOOP_ITEMS, runs, true);
        Row {
            case: "resume at iteration 9999/10000",
            runner: format!("{:.2} ms", ms(resume)),
            baseline: format!("{:.2} ms (--version)", ms(version)),
            ratio: ms(resume) / ms(version),
            target: "<= 5 ms",
            pass: ms(resume) <= 5.0,
        }
    }

    /// Case 6: the same resume inside a 100 000-item loop and inside a 10-item loop.
    fn resume_big_vs_small(&self, runs: usize) -> Row {
        let (big, _) = self.resume_time("each100k", 100_000, runs, false);
        let (small, _) = self.resume_time("each10", 10, runs, false);
        Row {
            case: "resume in 100000- vs 10-item loop",
            runner: format!("{:.2} ms", ms(big)),
            baseline: format!("{:.2} ms (10 items)", ms(small)),
            ratio: ms(big) / ms(small),
            target: "<= 1.5x",
            pass: ms(big) <= 1.5 * ms(small),
        }
    }

    /// Median times of `--resume` into the last iteration of an `items`-item for-each loop,
    /// and of `--version`, interleaved.
    /// With `full_log`, the audit log is the size a real run's is by then ([`log_iterations`]).
    fn resume_time(
        &self,
        name: &str,
        item_count: usize,
        runs: usize,
        full_log: bool,
    ) -> (Duration, Duration) {
        let workflow = format!(
            "name: {name}\nsteps:\n  - id: items\n    loop: {{over: \"items/*\", as: item}}\n    steps:\n      - id: touch\n        command: test ! -e fail\n"
        );
        let project = self.project(name, &workflow);
        let items = project.join("items");
        fs::create_dir_all(&items).expect("create items");
        for i in 0..item_count {
            fs::write(items.join(format!("{i:06}")), b"").expect("write item");
        }
        fs::write(project.join("fail"), b"").expect("write marker");
        let status = quiet(&mut self.runner(&project, &[name]))
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
        assert_eq!(
            looped.items.as_ref().map(ItemList::len),
            Some(item_count as u64)
        );
        looped.iteration = item_count as u64 - 1;
        assert_eq!(
            frame.child.as_ref().map(|c| c.state),
            Some(FrameState::Failed)
        );
        assert_eq!(doc.status, RunStatus::Failed);
        run.write_state(&doc).expect("write state");
        if full_log {
            // The log a real run has by then: a start and an end for each iteration before.
            log_iterations(&run.audit_path(), item_count - 1);
        }
        // Every file of the run (state.json, the audit log, the journal and loop list a failed
        // run keeps): a resume that completes the run deletes some of them. Restored, they are
        // not the files the state was written to (a journal's last record names the state.json
        // it goes with), so the state is written again, untimed, before each resume.
        let saved: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(run.path())
            .expect("list run dir")
            .map(|entry| entry.expect("run dir entry").path())
            .filter(|path| path.is_file())
            .map(|path| {
                let bytes = fs::read(&path).expect("read run file");
                (path, bytes)
            })
            .collect();

        let id = run.id().to_owned();
        let mut resume = Vec::new();
        let mut version = Vec::new();
        for _ in 0..runs {
            for (path, bytes) in &saved {
                fs::write(path, bytes).expect("restore run file");
                // On disk before the timing starts, so that the resume's flushes do not wait
                // for the copy's.
                fs::File::open(path)
                    .and_then(|file| file.sync_all())
                    .expect("sync run file");
            }
            run.write_state(&doc).expect("write state");
            let mut command = self.runner(&project, &["--resume", &id]);
            let start = Instant::now();
            let status = quiet(&mut command).status().expect("run agent-runner");
            resume.push(start.elapsed());
            assert!(status.success(), "the resume must complete the run");
            version.push(time(&mut self.runner(&project, &["--version"])));
        }
        (median(resume), median(version))
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

impl Bench {
    /// Case 4: the 500-step run with the state root on disk and on tmpfs, interleaved.
    fn tmpfs_500(&self, runs: usize) -> Option<Row> {
        let shm = tempfile::tempdir_in("/dev/shm").ok()?;
        let project = self.project("steps", &shell_steps_workflow("steps", 500));
        let mut disk = Vec::new();
        let mut tmpfs = Vec::new();
        for _ in 0..runs {
            disk.push(time(&mut self.runner(&project, &["steps"])));
            tmpfs.push(time(
                self.runner(&project, &["steps"])
                    .env("AGENT_RUNNER_HOME", shm.path()),
            ));
        }
        Some(timed_row(
            "500 shell steps, disk vs tmpfs",
            median(disk),
            median(tmpfs),
            1.15,
            "<= 1.15x",
        ))
    }

    /// Case 5: bytes written per iteration with a 10 000-item list and with a 10-item list.
    fn bytes_per_iteration(&self) -> Row {
        let big = self.iteration_bytes("bytes10k", 10_000, (100, 300));
        let small = self.iteration_bytes("bytes10", 10, (2, 8));
        Row {
            case: "bytes/iteration, 10000 vs 10 items",
            runner: format!("{big:.0} B"),
            baseline: format!("{small:.0} B (10 items)"),
            ratio: big / small,
            target: "<= 2x",
            pass: big <= 2.0 * small,
        }
    }

    /// Bytes per iteration of a loop over `item_count` items: the runner stops at iteration
    /// `stops.0` and then at `stops.1` (a failing step), and the difference is divided out, so
    /// what every run writes once (start, the list, the end) cancels.
    fn iteration_bytes(&self, name: &str, item_count: usize, stops: (usize, usize)) -> f64 {
        let workflow = format!(
            "name: {name}\nsteps:\n  - id: each\n    loop: {{over: \"items/*\", as: item}}\n    steps:\n      - id: step\n        command: test {{{{item}}}} != \"items/$STOP\"\n"
        );
        let project = self.project(name, &workflow);
        let items = project.join("items");
        fs::create_dir_all(&items).expect("create items");
        for i in 0..item_count {
            fs::write(items.join(format!("{i:06}")), b"").expect("write item");
        }
        let [first, second] = [stops.0, stops.1].map(|stop| {
            written_bytes(
                self.runner(&project, &[name])
                    .env("STOP", format!("{stop:06}")),
            )
        });
        second.saturating_sub(first) as f64 / (stops.1 - stops.0) as f64
    }

    /// Case 7: `list` in a project with 1000 runs, against `--version`.
    fn list_1000(&self, runs: usize) -> Row {
        let project = self.project("many", &shell_steps_workflow("many", 1));
        let real = project.canonicalize().expect("project path");
        let state = StateRoot::new(self.home())
            .project(&real)
            .expect("project state");
        for _ in 0..1000 {
            let run = state.create_run("many", None).expect("create run");
            let doc = agent_runner::state::StateDoc::new(
                run.id(),
                real.display().to_string(),
                agent_runner::state::WorkflowRef::default(),
            );
            run.write_state(&doc).expect("write state");
        }
        let mut list = Vec::new();
        let mut version = Vec::new();
        for _ in 0..runs {
            list.push(time(&mut self.runner(&project, &["list"])));
            version.push(time(&mut self.runner(&project, &["--version"])));
        }
        let (list, version) = (median(list), median(version));
        Row {
            case: "list, 1000 runs",
            runner: format!("{:.2} ms", ms(list)),
            baseline: format!("{:.2} ms (--version)", ms(version)),
            ratio: ms(list) / ms(version),
            target: "<= 5 ms",
            pass: ms(list) <= 5.0,
        }
    }
}

/// Makes the audit log at `path` (a run that failed in its first iteration) what a run that
/// reached iteration `iterations` has: the first iteration's `step_start` and `step_end` lines
/// repeated for each iteration before, ahead of the run's last line, with `seq` renumbered.
fn log_iterations(path: &Path, iterations: usize) {
    let text = fs::read_to_string(path).expect("read audit log");
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("an audit line"))
        .collect();
    let first = |event: &str| {
        lines
            .iter()
            .find(|l| l["event"] == event && l["path"] == "items[0]/touch")
            .cloned()
            .expect("the first iteration's lines")
    };
    let (start, mut end) = (first("step_start"), first("step_end"));
    end["data"]["outcome"] = "success".into();
    end["data"]["exit_code"] = 0.into();
    let last = lines.pop().expect("the run's last line");
    for i in 1..iterations {
        for line in [&start, &end] {
            let mut line = line.clone();
            line["path"] = format!("items[{i}]/touch").into();
            lines.push(line);
        }
    }
    lines.push(last);
    let mut out = String::new();
    for (seq, mut line) in lines.into_iter().enumerate() {
        line["seq"] = (seq + 1).into();
        out.push_str(&line.to_string());
        out.push('\n');
    }
    fs::write(path, out).expect("write audit log");
}

/// Runs `command` (its exit status does not matter) and polls the bytes it has passed to
/// `write` (`wchar` in `/proc/<pid>/io`) until it exits; the last reading is the total, give or
/// take what it writes in its last poll interval.
fn written_bytes(command: &mut Command) -> u64 {
    let mut child = quiet(command).spawn().expect("spawn");
    let io_file = format!("/proc/{}/io", child.id());
    let mut written = 0;
    loop {
        if let Ok(text) = fs::read_to_string(&io_file)
            && let Some(bytes) = text
                .lines()
                .find_map(|line| line.strip_prefix("wchar:"))
                .and_then(|rest| rest.trim().parse().ok())
        {
            written = written.max(bytes);
        }
        if child.try_wait().expect("wait").is_some() {
            return written;
        }
        std::thread::sleep(Duration::from_micros(200));
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
