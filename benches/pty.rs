//! Relay throughput: `cat` of a 200 MB file through an interactive shell step of the real
//! `agent-runner` (`mode: interactive`, so every byte crosses the terminal relay: output pump,
//! screen model, transcript) against the same `cat` in a bare pseudo-terminal. Both run inside a
//! 40×120 PTY whose master this bench drains, alternately, a few times each; it prints the median
//! throughput of each, the ratio (target: at least 0.8×), and the fixed cost of an `agent-runner`
//! run that relays nothing (so the ratio can be read for smaller outputs too).
//!
//! Run with `cargo bench --bench pty`. `PTY_BENCH_MB` (default 200) and `PTY_BENCH_RUNS`
//! (default 5) change the file size and the number of runs.

#![expect(
    clippy::expect_used,
    reason = "a bench whose setup fails has nothing to measure"
)]

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const RUNNER: &str = env!("CARGO_BIN_EXE_agent-runner");
const TARGET_RATIO: f64 = 0.8;

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

/// Runs `command` in a fresh 40×120 PTY and drains the master until the child has exited and
/// its output has ended. Returns the elapsed time and the bytes read.
fn drain(command: CommandBuilder) -> (Duration, u64) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("openpty");
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

    fn command(&self) -> CommandBuilder {
        let home = self.dir.path().join("home");
        let mut command = CommandBuilder::new(RUNNER);
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mb = env_number("PTY_BENCH_MB", 200);
    let runs = env_number("PTY_BENCH_RUNS", 5).max(1);
    let data = tempfile::tempdir().expect("temp dir");
    let file = data.path().join("input.txt");
    let bytes = write_input(&file, mb).expect("write input") as f64;
    let megabytes = bytes / (1024.0 * 1024.0);
    let relay = Project::new(&format!("cat {}", file.display()));
    let empty = Project::new("exit 0");

    // Warm the page cache and the binaries once.
    drain(bare(&file));
    drain(relay.command());

    let mut bare_rates = Vec::new();
    let mut relay_rates = Vec::new();
    let mut overheads = Vec::new();
    for run in 1..=runs {
        let (bare_time, bare_read) = drain(bare(&file));
        let (relay_time, relay_read) = drain(relay.command());
        let (overhead, _) = drain(empty.command());
        let bare_rate = megabytes / bare_time.as_secs_f64();
        let relay_rate = megabytes / relay_time.as_secs_f64();
        println!(
            "run {run}/{runs}: bare {bare_rate:7.1} MB/s ({:.2}s, {bare_read} bytes read)  relay {relay_rate:7.1} MB/s ({:.2}s, {relay_read} bytes read)  empty run {:.0} ms",
            bare_time.as_secs_f64(),
            relay_time.as_secs_f64(),
            overhead.as_secs_f64() * 1000.0,
        );
        bare_rates.push(bare_rate);
        relay_rates.push(relay_rate);
        overheads.push(overhead.as_secs_f64());
    }
    let bare_rate = median(bare_rates);
    let relay_rate = median(relay_rates);
    let overhead = median(overheads);
    let ratio = relay_rate / bare_rate;
    // The relay's own rate, without the fixed cost of starting and finishing a run.
    let relay_only = megabytes / (megabytes / relay_rate - overhead).max(f64::MIN_POSITIVE);
    println!(
        "cat of {megabytes:.0} MB, median of {runs}: bare PTY {bare_rate:.1} MB/s, agent-runner relay {relay_rate:.1} MB/s \
         ({relay_only:.1} MB/s without the {:.0} ms of an empty run); ratio {ratio:.2}x (target >= {TARGET_RATIO}x): {}",
        overhead * 1000.0,
        if ratio >= TARGET_RATIO {
            "ok"
        } else {
            "BELOW TARGET"
        }
    );
}
