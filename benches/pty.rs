//! Relay throughput: `cat` of a 200 MB file through an interactive shell step of the real
//! `agent-runner` (`mode: interactive`, so every byte crosses the terminal relay: output pump,
//! screen tracker, transcript) against the same `cat` in a bare pseudo-terminal. Both run inside a
//! 40×120 PTY whose master this bench drains, alternately, a few times each; it prints the median
//! throughput of each, the ratio (target: at least 0.8×), and the fixed cost of an `agent-runner`
//! run that relays nothing (so the ratio can be read for smaller outputs too).
//!
//! It also measures the physical ceiling of any relay on this machine: the same `cat` in an
//! inner PTY whose master a trivial copy loop (64 KiB reads, one write each, no filtering, no
//! process start) copies to the slave of the drained PTY, set raw as the relay sets the user's
//! terminal. Every byte then crosses two kernel PTYs, as with the real relay.
//!
//! Then, in this process, the terminal filters on the same bytes in the relay's 64 KiB chunks:
//! each hand-written state machine of src/pty (output filter, screen tracker, transcript) against
//! `vte`'s parser with callbacks that only count. That is the least any `vte`-based filter would
//! cost, so a hand-written filter faster than it stays (the filters' module docs cite this).
//!
//! Run with `cargo bench --bench pty`. `PTY_BENCH_MB` (default 200) and `PTY_BENCH_RUNS`
//! (default 5) change the file size and the number of runs. `PTY_BENCH_OTHER_RUNNER`, the path
//! of another `agent-runner` binary (say, one built from main), measures it too, in the same
//! runs, for a before/after comparison on a busy machine.

#![expect(
    clippy::expect_used,
    reason = "a bench whose setup fails has nothing to measure"
)]

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const RUNNER: &str = env!("CARGO_BIN_EXE_agent-runner");
const TARGET_RATIO: f64 = 0.8;
const ROWS: u16 = 40;
const COLS: u16 = 120;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `mb` MB of terminal output like a build's: plain lines, coloured status lines and
/// a progress line rewritten with CR.
fn write_input(path: &Path, mb: usize) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let target = (mb * 1024 * 1024) as u64;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < target {
        let chunk = format!(
            "   Compiling crate-{i:06} v0.{}.{} (/home/user/src/project/crates/crate-{i:06})\n\
             \x1b[1m\x1b[32mtest\x1b[0m tests::case_{i:06}_does_what_it_should ... \x1b[32mok\x1b[0m\n\
             Building [=========================>      ] {}/{} 83%\r\
             warning: unused variable `value_{i}` in src/module_{}.rs:{}:{} -- consider prefixing it\n",
            i % 7,
            i % 13,
            i % 997,
            997,
            i % 41,
            i % 500,
            i % 80,
        );
        out.write_all(chunk.as_bytes())?;
        written += chunk.len() as u64;
        i += 1;
    }
    out.flush()?;
    Ok(written)
}

/// A fresh 40×120 PTY.
fn open_pty() -> portable_pty::PtyPair {
    native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("openpty")
}

/// Runs `command` in a fresh 40×120 PTY and drains the master until the child has exited and
/// its output has ended. Returns the elapsed time and the bytes read.
fn drain(command: CommandBuilder) -> (Duration, u64) {
    let pair = open_pty();
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let start = Instant::now();
    let mut child = pair.slave.spawn_command(command).expect("spawn");
    drop(pair.slave);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let mut tail = Vec::new();
    loop {
        match reader.read(&mut buf) {
            // EIO: every copy of the slave is closed.
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n as u64;
                tail.extend_from_slice(&buf[..n]);
                tail.drain(..tail.len().saturating_sub(2048));
            }
        }
    }
    let status = child.wait().expect("wait");
    let elapsed = start.elapsed();
    assert!(
        status.success(),
        "the child failed: {status:?}; its output ended with:\n{}",
        String::from_utf8_lossy(&tail)
    );
    (elapsed, total)
}

/// Runs `cat file` in an inner PTY and relays its output with a plain copy loop to the slave of
/// a raw outer PTY, whose master is drained. Returns the elapsed time and the bytes read.
fn trivial_relay(file: &Path) -> (Duration, u64) {
    use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
    let size = nix::pty::Winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let outer = nix::pty::openpty(Some(&size), None).expect("openpty");
    let mut raw = tcgetattr(&outer.slave).expect("tcgetattr");
    cfmakeraw(&mut raw);
    tcsetattr(&outer.slave, SetArg::TCSANOW, &raw).expect("tcsetattr");
    let inner = open_pty();
    let mut from_child = inner.master.try_clone_reader().expect("reader");
    let mut to_user = File::from(outer.slave);
    let mut drained = File::from(outer.master);
    let start = Instant::now();
    let mut child = inner.slave.spawn_command(bare(file)).expect("spawn");
    drop(inner.slave);
    let copier = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from_child.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_user.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `to_user` closes the outer slave: the drain below reads EIO.
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match drained.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    let status = child.wait().expect("wait");
    copier.join().expect("copier");
    let elapsed = start.elapsed();
    assert!(status.success(), "cat failed: {status:?}");
    drop(inner.master);
    (elapsed, total)
}

/// A temp project whose `relay` workflow runs `command` as an interactive shell step.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(command: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let workflows = dir.path().join("project/.agent-runner/workflows");
        std::fs::create_dir_all(&workflows).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("home/.config")).expect("mkdir");
        std::fs::write(
            workflows.join("relay.yaml"),
            format!(
                "name: relay\nsteps:\n  - id: cat\n    mode: interactive\n    command: {command}\n"
            ),
        )
        .expect("write workflow");
        Self { dir }
    }

    fn command(&self, runner: &OsStr) -> CommandBuilder {
        let home = self.dir.path().join("home");
        let mut command = CommandBuilder::new(runner);
        command.env_clear();
        command.arg("relay");
        command.cwd(self.dir.path().join("project"));
        command.env("PATH", "/usr/bin:/bin");
        command.env("HOME", &home);
        command.env("AGENT_RUNNER_HOME", home.join(".agent-runner"));
        command.env("XDG_CONFIG_HOME", home.join(".config"));
        command.env("NO_COLOR", "1");
        command.env("TERM", "xterm-256color");
        command
    }
}

fn bare(file: &Path) -> CommandBuilder {
    let mut command = CommandBuilder::new("cat");
    command.arg(file);
    command
}

/// CPU seconds (user + system) used so far by this process and its reaped children: the cost of
/// a configuration, which a busy machine disturbs far less than its wall-clock time.
fn cpu_seconds() -> f64 {
    let used = |who| {
        // SAFETY: `getrusage` fills the zeroed `rusage` it is given and keeps no pointer to it.
        let usage = unsafe {
            let mut usage: nix::libc::rusage = std::mem::zeroed();
            nix::libc::getrusage(who, &mut usage);
            usage
        };
        let seconds = |t: nix::libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    };
    used(nix::libc::RUSAGE_SELF) + used(nix::libc::RUSAGE_CHILDREN)
}

/// Runs `measure` and returns its throughput in MB/s and the CPU seconds it cost.
fn measured(megabytes: f64, measure: impl FnOnce() -> (Duration, u64)) -> (f64, f64) {
    let cpu = cpu_seconds();
    let (time, _) = measure();
    (megabytes / time.as_secs_f64(), cpu_seconds() - cpu)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Callbacks that only count what `vte` found: the floor of any filter built on it.
#[derive(Default)]
struct CountingPerformer(u64);

impl vte::Perform for CountingPerformer {
    fn print(&mut self, _: char) {
        self.0 += 1;
    }
    fn execute(&mut self, _: u8) {
        self.0 += 1;
    }
    fn csi_dispatch(&mut self, _: &vte::Params, _: &[u8], _: bool, _: char) {
        self.0 += 1;
    }
    fn osc_dispatch(&mut self, _: &[&[u8]], _: bool) {
        self.0 += 1;
    }
    fn esc_dispatch(&mut self, _: &[u8], _: bool, _: u8) {
        self.0 += 1;
    }
}

/// Median MB/s of `feed` over `input` in 64 KiB chunks, over `runs` passes.
fn filter_rate(input: &[u8], runs: usize, mut feed: impl FnMut(&[u8])) -> f64 {
    let megabytes = input.len() as f64 / (1024.0 * 1024.0);
    let rates = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for chunk in input.chunks(64 * 1024) {
                feed(std::hint::black_box(chunk));
            }
            megabytes / start.elapsed().as_secs_f64()
        })
        .collect();
    median(rates)
}

/// The relay's filters against `vte`'s parser, in process, on the bench's own output.
fn filters_against_vte(file: &Path, runs: usize) {
    use agent_runner::pty::transcript::Transcript;
    use agent_runner::pty::{output_filter::OutputFilter, screen_tracker::ScreenTracker};
    let input = std::fs::read(file).expect("read input");
    let mut output = OutputFilter::new("0123456789abcdef0123456789abcdef");
    let mut forwarded = agent_runner::pty::output_filter::FilteredOutput::default();
    let output_rate = filter_rate(&input, runs, |chunk| {
        forwarded.forward.clear();
        output.feed_into(chunk, &mut forwarded);
    });
    let mut screen = ScreenTracker::new();
    let screen_rate = filter_rate(&input, runs, |chunk| screen.feed(chunk));
    let mut transcript = Transcript::new();
    let transcript_rate = filter_rate(&input, runs, |chunk| transcript.push(chunk));
    let mut parser = vte::Parser::new();
    let mut counted = CountingPerformer::default();
    let vte_rate = filter_rate(&input, runs, |chunk| parser.advance(&mut counted, chunk));
    std::hint::black_box((counted.0, screen.at_line_start(), transcript.render().len()));
    println!(
        "filters, MB/s in process (median of {runs}): output filter {output_rate:.0}, screen tracker \
         {screen_rate:.0}, transcript {transcript_rate:.0}; vte parser with counting callbacks \
         {vte_rate:.0} (the floor of a vte-based filter)"
    );
}

fn main() {
    let mb = env_number("PTY_BENCH_MB", 200);
    let runs = env_number("PTY_BENCH_RUNS", 5).max(1);
    let other = std::env::var_os("PTY_BENCH_OTHER_RUNNER");
    let data = tempfile::tempdir().expect("temp dir");
    let file = data.path().join("input.txt");
    let bytes = write_input(&file, mb).expect("write input") as f64;
    let megabytes = bytes / (1024.0 * 1024.0);
    let relay = Project::new(&format!("cat {}", file.display()));
    let empty = Project::new("exit 0");

    filters_against_vte(&file, runs);

    // Warm the page cache and the binaries once.
    drain(bare(&file));
    drain(relay.command(RUNNER.as_ref()));

    // Per configuration: throughputs and CPU seconds.
    let mut bare_runs = (Vec::new(), Vec::new());
    let mut relay_runs = (Vec::new(), Vec::new());
    let mut trivial_runs = (Vec::new(), Vec::new());
    let mut other_runs = (Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    let mut overheads = Vec::new();
    for run in 1..=runs {
        let bare_run = measured(megabytes, || drain(bare(&file)));
        let relay_run = measured(megabytes, || drain(relay.command(RUNNER.as_ref())));
        let trivial_run = measured(megabytes, || trivial_relay(&file));
        let other_run = other
            .as_ref()
            .map(|other| measured(megabytes, || drain(relay.command(other))));
        let (overhead, _) = drain(empty.command(RUNNER.as_ref()));
        let show = |name: &str, (rate, cpu): (f64, f64)| {
            format!(
                "{name} {rate:6.1} MB/s ({:.2}x, {cpu:.2} s CPU)",
                rate / bare_run.0
            )
        };
        let mut line = format!(
            "run {run}/{runs}: bare {:6.1} MB/s ({:.2} s CPU)  {}  {}",
            bare_run.0,
            bare_run.1,
            show("relay", relay_run),
            show("trivial relay", trivial_run),
        );
        if let Some(other_run) = other_run {
            line.push_str(&format!("  {}", show("other runner", other_run)));
            other_runs.0.push(other_run.0);
            other_runs.1.push(other_run.1);
        }
        println!(
            "{line}  empty run {:.0} ms",
            overhead.as_secs_f64() * 1000.0
        );
        ratios.push(relay_run.0 / bare_run.0);
        for (runs, (rate, cpu)) in [
            (&mut bare_runs, bare_run),
            (&mut relay_runs, relay_run),
            (&mut trivial_runs, trivial_run),
        ] {
            runs.0.push(rate);
            runs.1.push(cpu);
        }
        overheads.push(overhead.as_secs_f64());
    }
    let medians = |(rates, cpus): (Vec<f64>, Vec<f64>)| (median(rates), median(cpus));
    let (bare_rate, bare_cpu) = medians(bare_runs);
    let (relay_rate, relay_cpu) = medians(relay_runs);
    let (trivial_rate, trivial_cpu) = medians(trivial_runs);
    let overhead = median(overheads);
    let ratio = relay_rate / bare_rate;
    // The relay's own rate, without the fixed cost of starting and finishing a run.
    let relay_only = megabytes / (megabytes / relay_rate - overhead).max(f64::MIN_POSITIVE);
    println!(
        "cat of {megabytes:.0} MB, median of {runs}: bare PTY {bare_rate:.1} MB/s, agent-runner relay {relay_rate:.1} MB/s \
         ({relay_only:.1} MB/s without the {:.0} ms of an empty run); ratio {ratio:.2}x, median of the per-run ratios {:.2}x \
         (target >= {TARGET_RATIO}x): {}",
        overhead * 1000.0,
        median(ratios),
        if ratio >= TARGET_RATIO {
            "ok"
        } else {
            "BELOW TARGET"
        }
    );
    println!(
        "ceiling: trivial two-PTY copy loop {trivial_rate:.1} MB/s = {:.2}x bare; the relay reaches {:.2}x of the ceiling",
        trivial_rate / bare_rate,
        relay_rate / trivial_rate,
    );
    println!(
        "CPU seconds, median: bare {bare_cpu:.2}, relay {relay_cpu:.2}, trivial relay {trivial_cpu:.2}"
    );
    if !other_runs.0.is_empty() {
        let (other_rate, other_cpu) = medians(other_runs);
        println!(
            "other runner: {other_rate:.1} MB/s = {:.2}x bare, {other_cpu:.2} CPU seconds",
            other_rate / bare_rate
        );
    }
}
