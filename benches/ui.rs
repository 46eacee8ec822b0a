//! The run view with 1000 runs (issue #14): `agent-runner ui` must answer the board's first
//! requests within 200 ms and stay under 30 MB resident, measured through the release binary.
//!
//! One real run is made by the binary, then copied to 1000 runs under fresh ids. Each repetition
//! starts a new server (so its caches are cold) and times: the URL line, `GET /` (the page) and
//! the first `GET /api/runs` (every run, with usage). Baselines from the same repetitions:
//! `agent-runner list --json --limit 0` (the same listing, as a process) for the time, and a
//! server over an empty state root for the memory. Run with `cargo bench --bench ui`;
//! `UI_BENCH_RUNS=<n>` changes the repetitions.

#![expect(
    clippy::expect_used,
    reason = "a benchmark should stop at the first setup failure"
)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 1000;
const WORKFLOW: &str = "name: board\nsteps:\n  - {id: build, command: echo built}\n  - {id: test, command: echo tested}\n  - {id: lint, command: 'echo lint >&2; exit 2'}\n";

fn main() {
    let reps = std::env::var("UI_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let full = Setup::new(&dir.path().join("full"));
    full.make_runs(RUNS);
    let empty = Setup::new(&dir.path().join("empty"));

    let mut url = Vec::new();
    let mut page = Vec::new();
    let mut api = Vec::new();
    let mut list = Vec::new();
    let mut rss = Vec::new();
    let mut rss_empty = Vec::new();
    for _ in 0..reps {
        let server = Server::start(&full);
        url.push(server.url_after);
        page.push(timed(|| server.get("/", true)));
        api.push(timed(|| server.get("/api/runs", false)));
        rss.push(server.rss_kib());
        drop(server);
        let start = Instant::now();
        let status = full
            .command(&["list", "--json", "--limit", "0"])
            .stdout(Stdio::null())
            .status()
            .expect("list");
        assert!(status.success());
        list.push(start.elapsed());
        let server = Server::start(&empty);
        server.get("/", true);
        server.get("/api/runs", false);
        rss_empty.push(server.rss_kib());
    }
    let (url, page, api, list) = (median(url), median(page), median(api), median(list));
    let (rss, rss_empty) = (
        median(rss) as f64 / 1024.0,
        median(rss_empty) as f64 / 1024.0,
    );
    println!("agent-runner ui with {RUNS} runs (medians of {reps} fresh servers)");
    row(
        "URL printed",
        ms(url),
        "",
        url <= Duration::from_millis(500),
        "<= 500 ms",
    );
    row(
        "GET / (the page)",
        ms(page),
        "",
        page <= Duration::from_millis(200),
        "<= 200 ms",
    );
    row(
        "first GET /api/runs",
        ms(api),
        &format!("{:.2}x `list --json` ({})", ratio(api, list), ms(list)),
        api <= Duration::from_millis(200),
        "<= 200 ms",
    );
    row(
        "resident memory (VmRSS)",
        format!("{rss:.1} MiB"),
        &format!(
            "{:.2}x empty state root ({rss_empty:.1} MiB)",
            rss / rss_empty
        ),
        rss < 30.0,
        "< 30 MB",
    );
}

fn row(case: &str, value: String, baseline: &str, pass: bool, target: &str) {
    let result = if pass { "pass" } else { "FAIL" };
    println!("  {case:<26} {value:>10}  {baseline:<40} {target:>10}  {result}");
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn timed(f: impl FnOnce() -> String) -> Duration {
    let start = Instant::now();
    let body = f();
    let elapsed = start.elapsed();
    assert!(!body.is_empty());
    elapsed
}

/// A project and its state root.
struct Setup {
    root: PathBuf,
}

impl Setup {
    fn new(root: &Path) -> Self {
        let workflows = root.join("project/.agent-runner/workflows");
        fs::create_dir_all(&workflows).expect("project");
        fs::write(workflows.join("board.yaml"), WORKFLOW).expect("workflow");
        Setup {
            root: root.to_path_buf(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent-runner"));
        command
            .args(args)
            .current_dir(self.root.join("project"))
            .env("AGENT_RUNNER_HOME", self.root.join("home"))
            .env("HOME", &self.root)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// One real (failed) run, copied to `count` runs in all.
    fn make_runs(&self, count: usize) {
        let status = self
            .command(&["board"])
            .stdout(Stdio::null())
            .status()
            .expect("run");
        assert_eq!(status.code(), Some(1), "the run fails at its lint step");
        let runs_dirs: Vec<PathBuf> = fs::read_dir(self.root.join("home/projects"))
            .expect("projects")
            .map(|p| p.expect("entry").path().join("runs"))
            .collect();
        let runs = &runs_dirs[0];
        let original = fs::read_dir(runs)
            .expect("runs")
            .next()
            .expect("one run")
            .expect("entry")
            .path();
        let id = original
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let stem = &id[..id.len() - 4];
        for i in 1..count {
            let new_id = format!("{stem}{i:04x}");
            let target = runs.join(&new_id);
            copy_run(&original, &target, &id, &new_id);
        }
    }
}

/// Copies a run dir, renaming the run id inside its files.
fn copy_run(from: &Path, to: &Path, id: &str, new_id: &str) {
    fs::create_dir_all(to).expect("run dir");
    for entry in fs::read_dir(from).expect("read run") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_run(&path, &to.join(entry.file_name()), id, new_id);
        } else if entry.file_name() != "lock" {
            let text = fs::read(&path).expect("read");
            let text = String::from_utf8_lossy(&text).replace(id, new_id);
            fs::write(to.join(entry.file_name()), text).expect("write");
        }
    }
}

/// A running `agent-runner ui --port 0`.
struct Server {
    child: Child,
    host: String,
    token: String,
    url_after: Duration,
}

impl Server {
    fn start(setup: &Setup) -> Self {
        let start = Instant::now();
        let mut child = setup
            .command(&["ui", "--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("ui");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("URL line");
        let url_after = start.elapsed();
        let url = line.trim().rsplit(' ').next().expect("url").to_owned();
        let rest = url.strip_prefix("http://").expect("http");
        let (host, token) = rest.split_once("/?token=").expect("token");
        Server {
            child,
            host: host.to_owned(),
            token: token.to_owned(),
            url_after,
        }
    }

    /// The body of `GET path`, with the token in the query or the cookie.
    fn get(&self, path: &str, query: bool) -> String {
        let port = self.host.rsplit(':').next().expect("port");
        let (path, cookie) = if query {
            (format!("{path}?token={}", self.token), String::new())
        } else {
            (
                path.to_owned(),
                format!("Cookie: agent_runner_token_{port}={}\r\n", self.token),
            )
        };
        let mut stream = TcpStream::connect(&self.host).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Connection: close\r\n\r\n",
            self.host
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        assert!(response.starts_with("HTTP/1.1 200"), "{response:.200}");
        response
    }

    fn rss_kib(&self) -> u64 {
        let status =
            fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
