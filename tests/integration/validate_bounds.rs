//! Resource bounds of `--validate`: no workflow file under the 1 MiB limit may cost more than
//! 100 MB of memory or 1 s, whatever its shape.
//!
//! Each adversarial shape is generated at two sizes and validated by the real binary; the child's
//! peak RSS and CPU time come from `wait4`. Memory is asserted absolutely. Time is asserted as
//! scaling: CPU time at full size may grow at most [`MAX_GROWTH`] times the size ratio over the
//! small size (a quadratic shape grows by the square), which holds on a loaded machine and in a
//! debug build. With a release binary (`AGENT_RUNNER_BOUNDS_BIN=target/release/agent-runner`)
//! the absolute 1 s bound is asserted too.
//!
//! `cargo test` runs each shape at 256 KiB against 64 KiB. `AGENT_RUNNER_BOUNDS_LONG=1` runs them
//! at just under 1 MiB against 256 KiB, plus seeded random mixtures of the shapes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The bound the issue sets on any input under the file limit.
const MAX_RSS_BYTES: u64 = 100 * 1000 * 1000;
const MAX_CPU: Duration = Duration::from_secs(1);
/// Allowed super-linearity: time(4n)/time(n) may be at most 4 × this.
const MAX_GROWTH: f64 = 2.0;
/// Below this CPU time a measurement is mostly process start-up and says nothing of scaling.
const NOISE: Duration = Duration::from_millis(60);

/// One adversarial shape: builds a workflow text of about `size` bytes.
struct Shape {
    name: &'static str,
    build: fn(usize) -> String,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "nested flow sequences",
        build: |n| format!("name: x\nsteps: {}\n", "[".repeat(n - 20)),
    },
    Shape {
        name: "nested flow mappings",
        build: |n| format!("name: x\nsteps: {}\n", "{a: ".repeat((n - 20) / 4)),
    },
    Shape {
        name: "nested block mappings",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n");
            let mut depth = 0;
            while text.len() + depth + 4 < n {
                let _ = writeln!(text, "{}k:", " ".repeat(depth));
                depth += 1;
            }
            text
        },
    },
    Shape {
        name: "alias bomb",
        build: |n| {
            // Each level lists the previous one ten times; as many levels as fit, then filler.
            let mut text = String::from("name: x\nx:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for level in 1..9 {
                let prev = level - 1;
                let refs = vec![format!("*a{prev}"); 10].join(", ");
                let _ = writeln!(text, "  a{level}: &a{level} [{refs}]");
            }
            text.push_str("steps: [{id: a, command: ls}]\n");
            pad_comment(text, n)
        },
    },
    Shape {
        name: "wide aliases",
        build: |n| {
            let anchor = vec!["1"; 1000].join(",");
            let mut text = format!("name: x\nx: &a [{anchor}]\nsteps: [");
            while text.len() + 8 < n {
                text.push_str("*a,");
            }
            text.push_str("*a]\n");
            text
        },
    },
    Shape {
        name: "many erroneous steps",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n");
            let mut i = 0;
            while text.len() + 40 < n {
                let _ = writeln!(text, "  - id: s{i}\n    bogus: 1");
                i += 1;
            }
            text
        },
    },
    Shape {
        name: "flat list of scalars as steps",
        build: |n| format!("name: x\nsteps: [{}1]\n", "1,".repeat((n - 20) / 2)),
    },
    Shape {
        name: "steps with unknown keys and no ids",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n");
            let mut i = 0;
            while text.len() + 20 < n {
                let _ = writeln!(text, "- {{a{i}: 1}}");
                i += 1;
            }
            text
        },
    },
    Shape {
        name: "captures each used by the next step",
        build: |n| {
            let mut text =
                String::from("name: x\nsteps:\n  - {id: s0, command: ls, capture: c0}\n");
            let mut i = 1;
            while text.len() + 80 < n {
                let _ = writeln!(
                    text,
                    "  - {{id: s{i}, command: 'echo {{{{c{}}}}}', capture: c{i}}}",
                    i - 1
                );
                i += 1;
            }
            text
        },
    },
    Shape {
        name: "duplicate step ids",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n");
            while text.len() + 30 < n {
                text.push_str("  - {id: same, command: ls}\n");
            }
            text
        },
    },
    Shape {
        name: "duplicate keys",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n  - id: a\n");
            while text.len() + 20 < n {
                text.push_str("    command: ls\n");
            }
            text
        },
    },
    Shape {
        name: "one huge template",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n  - id: a\n    command: \"");
            while text.len() + 12 < n {
                text.push_str("{{y}} '$( \\\"");
            }
            text.push_str("\"\n");
            text
        },
    },
    Shape {
        name: "unknown variables everywhere",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n  - id: a\n    prompt: \"");
            let mut i = 0;
            while text.len() + 12 < n {
                let _ = write!(text, "{{{{v{i}}}}}");
                i += 1;
            }
            text.push_str("\"\n");
            text
        },
    },
    Shape {
        name: "long keys",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n  - id: a\n    command: ls\n");
            let mut i = 0;
            while text.len() + 2100 < n {
                let _ = writeln!(text, "    {}{i}: 1", "k".repeat(2000));
                i += 1;
            }
            text
        },
    },
    Shape {
        name: "unclosed quotes and tabs",
        build: |n| {
            let mut text = String::from("name: x\nsteps:\n");
            while text.len() + 20 < n {
                text.push_str("\t- \"a\n  '{{\n");
            }
            text
        },
    },
];

/// Fills `text` up to `n` bytes with a trailing comment line, so sizes compare.
fn pad_comment(mut text: String, n: usize) -> String {
    if text.len() + 3 < n {
        text.push('#');
        text.push_str(&"x".repeat(n - text.len() - 2));
        text.push('\n');
    }
    text
}

fn long() -> bool {
    std::env::var_os("AGENT_RUNNER_BOUNDS_LONG").is_some()
}

fn binary() -> (PathBuf, bool) {
    match std::env::var_os("AGENT_RUNNER_BOUNDS_BIN") {
        Some(path) => (PathBuf::from(path), true),
        None => (PathBuf::from(env!("CARGO_BIN_EXE_agent-runner")), false),
    }
}

/// Peak RSS and CPU time (user + system) of `--validate` on `text`.
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which std does not know about"
)]
fn measure(dir: &Path, bin: &Path, text: &str) -> (u64, Duration, i32) {
    let file = dir.join("w.yaml");
    std::fs::write(&file, text).unwrap();
    let child = Command::new(bin)
        .args(["--validate", "w.yaml"])
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("AGENT_RUNNER_HOME", dir.join(".ar-home"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as nix::libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; `pid` is our own unreaped child.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let cpu = |t: nix::libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let code = if nix::libc::WIFEXITED(status) {
        nix::libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        usage.ru_maxrss as u64 * 1024,
        cpu(usage.ru_utime) + cpu(usage.ru_stime),
        code,
    )
}

/// Validates `text` and checks the bounds; returns the CPU time.
fn check(dir: &Path, name: &str, text: &str) -> Duration {
    assert!(text.len() <= 1024 * 1024, "{name}: generator overshot");
    let (bin, release) = binary();
    let (rss, cpu, code) = measure(dir, &bin, text);
    eprintln!(
        "{name}: {} KiB -> exit {code}, {:.1} MB, {:?}",
        text.len() / 1024,
        rss as f64 / 1e6,
        cpu
    );
    assert!(
        code == 0 || code == 3,
        "{name}: exit {code} (a crash or signal)"
    );
    assert!(
        rss <= MAX_RSS_BYTES,
        "{name}: {} MB of memory for {} bytes",
        rss / 1_000_000,
        text.len()
    );
    if release {
        assert!(cpu <= MAX_CPU, "{name}: {cpu:?} for {} bytes", text.len());
    }
    cpu
}

fn check_scaling(name: &str, small: Duration, large: Duration, ratio: f64) {
    if large < NOISE {
        return;
    }
    let allowed = small.max(NOISE).as_secs_f64() * ratio * MAX_GROWTH;
    assert!(
        large.as_secs_f64() <= allowed,
        "{name}: {large:?} at {ratio}x the size of a {small:?} input: worse than linear"
    );
}

#[test]
fn validating_any_small_file_has_bounded_memory_and_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = if long() {
        (256 * 1024, 1024 * 1024 - 64)
    } else {
        (64 * 1024, 256 * 1024)
    };
    for shape in SHAPES {
        let small_cpu = check(dir.path(), shape.name, &(shape.build)(small));
        let large_cpu = check(dir.path(), shape.name, &(shape.build)(large));
        check_scaling(
            shape.name,
            small_cpu,
            large_cpu,
            large as f64 / small as f64,
        );
    }
}

/// Random mixtures of the shapes' lines (seeded, so a failure reproduces), long mode only.
#[test]
fn validating_random_mixtures_of_hostile_shapes_stays_bounded() {
    if !long() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: Vec<Vec<String>> = SHAPES
        .iter()
        .map(|s| (s.build)(8 * 1024).lines().map(str::to_owned).collect())
        .collect();
    let cases = 200;
    for case in 0..cases {
        let mut text = String::from("name: x\nsteps:\n");
        let target = 1024 * 1024 - 4096;
        while text.len() + 64 < target {
            let lines = &pieces[next() as usize % pieces.len()];
            let start = next() as usize % lines.len();
            for line in lines.iter().skip(start).take(1 + next() as usize % 64) {
                if text.len() + line.len() + 1 >= target {
                    break;
                }
                text.push_str(line);
                text.push('\n');
            }
        }
        check(dir.path(), &format!("mixture {case}"), &text);
    }
    eprintln!("{cases} random mixtures validated within bounds");
}
