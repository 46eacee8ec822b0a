//! The fluent `Test` builder every integration test uses.
//!
//! A test writes files into a fresh temporary project, runs the real `agent-runner` binary there
//! with a clean environment, and checks the exit status and output:
//!
//! ```ignore
//! Test::new()
//!     .write(".agent-runner/workflows/fix.yaml", "name: fix\nsteps: [{id: a, command: ls}]\n")
//!     .args(["--validate", "fix"])
//!     .stdout("ok: fix (1 file checked)\n")
//!     .run();
//! ```
//!
//! Layout of the temporary dir: `project/` (the working directory, where `.write` puts files),
//! `home/` (`HOME`, with `AGENT_RUNNER_HOME=home/.agent-runner` and the user config dir
//! `home/.config/agent-runner`, written with `.write_user`), and `bin/`, which comes first on
//! `PATH` so fake agent CLIs can be dropped there (`.write_bin`). Only `PATH`, `HOME`,
//! `AGENT_RUNNER_HOME`, `XDG_CONFIG_HOME`, `AGENT_RUNNER_CONFIG_DIR` and `NO_COLOR=1` are set,
//! plus whatever `.env` adds. Output has the temp dir replaced by `[TMP]`.
//!
//! `Output::then` starts the next command in the same temp dir (a run, then `--resume`), and
//! `Test::spawn` runs the binary in the background so a test can signal or kill it (`Running`).
//!
//! Agent steps run against `fake-agent`: `.fake_clis(&["claude", "codex"])` links it into `bin/`
//! under those names and points its log and session stores into the temp dir; `.fake_script`
//! sets its per-turn behaviour. After the run, [`Output`] reads the fake's invocation log, the run
//! dir's `state.json`, `audit.jsonl` and output files, and `.again()` is `.then()` with the same
//! environment (for `--resume` and `show` against the same fakes).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::Value;
use tempfile::TempDir;

pub struct Test {
    tempdir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    current_dir: PathBuf,
    status: i32,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
}

/// What a run produced; keeps the temp dir alive for file assertions.
pub struct Output {
    pub tempdir: TempDir,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// The environment the run was given with `.env` (kept by `.again()`).
    env: Vec<(String, String)>,
}

impl Output {
    /// The project dir of the run.
    pub fn project(&self) -> PathBuf {
        self.tempdir.path().join("project")
    }

    /// Another command in the same temp dir: files, runs and state are kept; arguments,
    /// environment and expectations start empty.
    pub fn then(self) -> Test {
        Test::new_in(Some(self.tempdir))
    }

    /// Like [`Output::then`], keeping the environment given with `.env` (the fake CLIs' log and
    /// session stores, for example).
    pub fn again(self) -> Test {
        let mut test = Test::new_in(Some(self.tempdir));
        test.env = self.env;
        test
    }

    /// Reads a file of the project.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.project().join(path))
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    /// Every line of the fake agent's log (`$FAKE_AGENT_LOG`), in order.
    pub fn fake_log(&self) -> Vec<Value> {
        read_jsonl(&self.tempdir.path().join(FAKE_LOG))
    }

    /// The fake's agent turns (auth checks and rejected command lines left out), in order.
    pub fn turns(&self) -> Vec<Value> {
        self.fake_log()
            .into_iter()
            .filter(|l| {
                l["kind"] == "invocation"
                    && matches!(l["mode"].as_str(), Some("headless" | "interactive"))
            })
            .collect()
    }

    /// The session id the fake used in agent turn `n` (0-based).
    pub fn turn_session(&self, n: usize) -> String {
        let turns = self.turns();
        let turn = turns
            .get(n)
            .unwrap_or_else(|| panic!("no turn {n} in {turns:?}"));
        turn["session_id"].as_str().expect("session id").to_owned()
    }

    /// The argv of each agent turn.
    pub fn turn_argvs(&self) -> Vec<Vec<String>> {
        self.turns()
            .iter()
            .map(|t| {
                t["argv"]
                    .as_array()
                    .expect("argv is a list")
                    .iter()
                    .map(|a| a.as_str().expect("argv strings").to_owned())
                    .collect()
            })
            .collect()
    }

    /// Every run dir of the project, oldest first (run ids start with the time).
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let projects = self.tempdir.path().join("home/.agent-runner/projects");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&projects)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|p| {
                std::fs::read_dir(p.path().join("runs"))
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .collect();
        dirs.sort_by_key(|d| {
            std::fs::metadata(d.join("audit.jsonl"))
                .and_then(|m| m.created().or_else(|_| m.modified()))
                .ok()
        });
        dirs
    }

    /// The run dir; the test must have made exactly one run.
    pub fn run_dir(&self) -> PathBuf {
        let dirs = self.run_dirs();
        assert_eq!(dirs.len(), 1, "expected one run dir, found {dirs:?}");
        dirs.into_iter().next().expect("one run dir")
    }

    /// The run's id (the name of its dir).
    pub fn run_id(&self) -> String {
        self.run_dir()
            .file_name()
            .expect("run dir name")
            .to_string_lossy()
            .into_owned()
    }

    /// The run's `state.json`.
    pub fn state(&self) -> Value {
        let path = self.run_dir().join("state.json");
        let text = std::fs::read_to_string(&path).expect("read state.json");
        serde_json::from_str(&text).expect("state.json is JSON")
    }

    /// The run's audit log.
    pub fn audit(&self) -> Vec<Value> {
        read_jsonl(&self.run_dir().join("audit.jsonl"))
    }

    /// The audit events named `event`, in order.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// The names of the run's output files, sorted.
    pub fn output_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.run_dir().join("output"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The content of the one output file whose name ends with `suffix`.
    pub fn output_file(&self, suffix: &str) -> String {
        let matching: Vec<String> = self
            .output_files()
            .into_iter()
            .filter(|n| n.ends_with(suffix))
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "output files ending in {suffix:?}: {matching:?}"
        );
        let path = self.run_dir().join("output").join(&matching[0]);
        std::fs::read_to_string(path).expect("read output file")
    }

    /// The project dir as the runner sees it (real path), as text.
    pub fn project_real(&self) -> String {
        self.project()
            .canonicalize()
            .expect("project dir")
            .display()
            .to_string()
    }
}

/// The fake agent's log, relative to the temp dir.
const FAKE_LOG: &str = "fake-agent.log";

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Self {
        Test::new_in(None)
    }

    /// A builder in `tempdir`, or in a fresh one.
    pub(crate) fn new_in(tempdir: Option<TempDir>) -> Self {
        let tempdir = tempdir.unwrap_or_else(|| {
            tempfile::Builder::new()
                .prefix("agent-runner-test")
                .tempdir()
                .expect("temp dir")
        });
        for dir in ["project", "home/.config/agent-runner", "bin"] {
            std::fs::create_dir_all(tempdir.path().join(dir)).expect("create dir");
        }
        Test {
            current_dir: PathBuf::from("project"),
            tempdir,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            status: 0,
            stdout: None,
            stderr: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
        }
    }

    /// The temp dir (its `project/` subdir is the working directory).
    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// The project dir.
    pub fn project(&self) -> PathBuf {
        self.tempdir.path().join("project")
    }

    fn write_at(self, path: PathBuf, content: impl AsRef<[u8]>) -> Self {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&path, content).expect("write file");
        self
    }

    /// Writes a file relative to the project dir.
    pub fn write(self, path: &str, content: impl AsRef<[u8]>) -> Self {
        let at = self.project().join(path);
        self.write_at(at, content)
    }

    /// Writes a file relative to the user config dir (`~/.config/agent-runner`).
    pub fn write_user(self, path: &str, content: impl AsRef<[u8]>) -> Self {
        let at = self.path().join("home/.config/agent-runner").join(path);
        self.write_at(at, content)
    }

    /// Writes an executable into `bin/`, which is first on `PATH`.
    pub fn write_bin(self, name: &str, script: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let at = self.path().join("bin").join(name);
        let test = self.write_at(at.clone(), script);
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        test
    }

    /// Links `fake-agent` into `bin/` under each CLI name, and points its log
    /// (`$FAKE_AGENT_LOG`) and the CLIs' session stores (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`) into
    /// the temp dir. `IS_SANDBOX=1` lets claude accept bypassed permissions when tests run as root.
    pub fn fake_clis(self, names: &[&str]) -> Self {
        for name in names {
            let link = self.path().join("bin").join(name);
            std::os::unix::fs::symlink(crate::helpers::fake_agent(), link).expect("link fake");
        }
        let root = self.path().to_path_buf();
        self.env("FAKE_AGENT_LOG", &root.join(FAKE_LOG).display().to_string())
            .env(
                "CLAUDE_CONFIG_DIR",
                &root.join("home/.claude").display().to_string(),
            )
            .env(
                "CODEX_HOME",
                &root.join("home/.codex").display().to_string(),
            )
            .env("IS_SANDBOX", "1")
    }

    /// Sets the fake's per-turn script (`$FAKE_AGENT_SCRIPT`, see `crates/test-helpers/src/bin/fake-agent/script.rs`).
    pub fn fake_script(self, yaml: &str) -> Self {
        let at = self.path().join("fake-script.yaml");
        let test = self.write_at(at.clone(), yaml);
        test.env("FAKE_AGENT_SCRIPT", &at.display().to_string())
    }

    /// Writes a project workflow, `.agent-runner/workflows/<name>.yaml`.
    pub fn workflow(self, name: &str, yaml: &str) -> Self {
        self.write(&format!(".agent-runner/workflows/{name}.yaml"), yaml)
    }

    /// Writes the project configuration, `.agent-runner/config.yaml`.
    pub fn project_config(self, yaml: &str) -> Self {
        self.write(".agent-runner/config.yaml", yaml)
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    pub fn args<const N: usize>(mut self, args: [&str; N]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Drops a variable set earlier with `.env` (or kept by `.again()`).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    /// stdin is `/dev/null` (the default, spelled out).
    pub fn stdin_null(mut self) -> Self {
        self.stdin = None;
        self
    }

    /// Runs in this dir, relative to the temp dir (default `project`).
    pub fn current_dir(mut self, dir: &str) -> Self {
        self.current_dir = PathBuf::from(dir);
        self
    }

    pub fn status(mut self, status: i32) -> Self {
        self.status = status;
        self
    }

    /// Expects exactly this stdout.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Some(text.to_owned());
        self
    }

    /// Expects exactly this stderr.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Some(text.to_owned());
        self
    }

    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.stdout_contains.push(text.to_owned());
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.stderr_contains.push(text.to_owned());
        self
    }

    /// Runs the binary and checks every expectation.
    pub fn run(self) -> Output {
        let (status, stdout, stderr) = self.output();
        self.check(status, stdout, stderr)
    }

    fn check(self, status: i32, stdout: String, stderr: String) -> Output {
        let output = Output {
            tempdir: self.tempdir,
            status,
            stdout,
            stderr,
            env: self.env,
        };
        if let Some(expected) = &self.stdout {
            assert_eq!(output.stdout, *expected, "stdout");
        }
        if let Some(expected) = &self.stderr {
            assert_eq!(output.stderr, *expected, "stderr");
        }
        for text in &self.stdout_contains {
            assert!(
                output.stdout.contains(text.as_str()),
                "stdout lacks {text:?}:\n{}",
                output.stdout
            );
        }
        for text in &self.stderr_contains {
            assert!(
                output.stderr.contains(text.as_str()),
                "stderr lacks {text:?}:\n{}",
                output.stderr
            );
        }
        assert_eq!(
            output.status, self.status,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            output.stdout, output.stderr
        );
        output
    }

    /// Runs the binary: (exit status, stdout, stderr).
    fn output(&self) -> (i32, String, String) {
        let mut child = self.command().spawn().expect("spawn agent-runner");
        if let Some(text) = &self.stdin {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            // The binary may exit without reading stdin; a broken pipe is fine.
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().expect("wait for agent-runner");
        (
            out.status.code().unwrap_or(-1),
            clean(self.path(), &out.stdout),
            clean(self.path(), &out.stderr),
        )
    }

    /// Starts the binary in the background (stdin null); the expectations are not checked.
    pub fn spawn(self) -> Running {
        let mut child = self.command().spawn().expect("spawn agent-runner");
        let pump = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            let mut pipe = pipe.expect("piped output");
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = pump(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = pump(child.stderr.take().map(|p| Box::new(p) as _));
        Running {
            test: self,
            child,
            stdout,
            stderr,
        }
    }

    /// The command that runs the binary in the test's clean environment.
    pub(crate) fn command(&self) -> Command {
        let root = self.path();
        let home = root.join("home");
        let path = match std::env::var_os("PATH") {
            Some(rest) => format!("{}:{}", root.join("bin").display(), rest.to_string_lossy()),
            None => root.join("bin").display().to_string(),
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent-runner"));
        command
            .args(&self.args)
            .current_dir(root.join(&self.current_dir))
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("AGENT_RUNNER_HOME", home.join(".agent-runner"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("AGENT_RUNNER_CONFIG_DIR", home.join(".config/agent-runner"))
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// Output text with the temp dir replaced by `[TMP]`.
fn clean(root: &Path, bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace(&root.display().to_string(), "[TMP]")
}

/// The binary running in the background (see [`Test::spawn`]). Dropping it kills the process.
pub struct Running {
    test: Test,
    child: std::process::Child,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// The project dir.
    pub fn project(&self) -> PathBuf {
        self.test.project()
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        self.test.path()
    }

    /// Sends `signal` to the runner only (not to its children's process groups).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).expect("kill");
    }

    /// Waits until `check` holds, polling; panics after `timeout`.
    pub fn wait_until(&mut self, timeout: Duration, what: &str, check: impl Fn(&Path) -> bool) {
        let deadline = Instant::now() + timeout;
        while !check(self.test.path()) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agent-runner exited ({status}) while waiting for {what}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process has exited (it is reaped then).
    pub fn try_status(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .expect("try_wait")
            .map(|status| status.code().unwrap_or(-1))
    }

    /// Waits for the exit (panics after `timeout`) and checks the builder's expectations.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.try_status() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("agent-runner did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let root = self.test.path().to_path_buf();
        let stdout = clean(&root, &self.stdout.join().expect("stdout reader"));
        let stderr = clean(&root, &self.stderr.join().expect("stderr reader"));
        self.test.check(status, stdout, stderr)
    }

    /// Kills the process with SIGKILL and reaps it; returns the temp dir for the next command.
    pub fn kill(mut self) -> Test {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.stdout.join();
        let _ = self.stderr.join();
        Test::new_in(Some(self.test.tempdir))
    }

    /// Like [`Running::kill`], keeping the environment given with `.env` (the fake CLIs' log,
    /// script and session stores) for the next command.
    pub fn kill_keeping_env(self) -> Test {
        let env = self.test.env.clone();
        let mut test = self.kill();
        test.env = env;
        test
    }
}

/// The headless framing of agents.md §7, word for word, for step `step` of root workflow
/// `workflow`.
pub fn headless_preamble(step: &str, workflow: &str) -> String {
    format!(
        "You are running non-interactively as step \"{step}\" of the agent-runner workflow \"{workflow}\". \
         Nobody will answer questions before this step ends. Do not ask for confirmation or \
         clarification: choose the most reasonable option, note your assumptions, and keep going. \
         Do only this step's task; later steps are handled separately. End with a short summary of \
         what you did and what, if anything, is left undone."
    )
}

/// A test with every fake CLI on PATH and the project workflow `w`, run as `agent-runner w`.
pub fn agent_workflow(yaml: &str) -> Test {
    Test::new().fake_clis(ALL_CLIS).workflow("w", yaml).arg("w")
}

/// Every CLI the fake can play.
pub const ALL_CLIS: &[&str] = &[
    "claude",
    "codex",
    "copilot",
    "cursor-agent",
    "opencode",
    "gemini",
];

/// The line of `text` that starts with `prefix` (exactly one).
pub fn line_starting(text: &str, prefix: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(lines.len(), 1, "lines starting with {prefix:?} in:\n{text}");
    lines[0].to_owned()
}

/// Whether a file below `dir` (at any depth) satisfies `check`.
pub fn any_file_below(dir: &Path, check: &dyn Fn(&Path) -> bool) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                any_file_below(&path, check)
            } else {
                check(&path)
            }
        })
}
