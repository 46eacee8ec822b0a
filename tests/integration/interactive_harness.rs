//! The harness of the end-to-end interactive tests (interactive.md §11): the real `agent-runner`
//! inside a real 40×120 pseudo-terminal, with `fake-agent` first on `PATH` as `claude` and `codex`.
//!
//! A [`World`] is a temp dir with `bin/` (the fakes), `home/` (`HOME`, `AGENT_RUNNER_HOME`, the
//! user config, `CLAUDE_CONFIG_DIR`, `CODEX_HOME`), `project/` (the working directory, with the
//! workflows under `.agent-runner/workflows/`), `run/` (`XDG_RUNTIME_DIR`, where the control
//! socket goes) and the fake's log. [`World::spawn`] starts the runner under expectrl, inside a
//! wrapper shell that prints `stty -g` before and after the run and the runner's exit status, so
//! every terminal test also checks that the user's terminal modes came back ([`Term::finish`]).
//! Every expect has a 10 s timeout.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use expectrl::{Regex, Session};
use serde_json::Value;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The workflow most tests run: one interactive claude step, then a shell step.
pub const PAIR: &str = r#"name: pair
description: Work on a change together
steps:
  - id: chat
    cli: claude
    prompt: Talk with me
  - id: after
    command: printf 'next step %s\n' ran
"#;
/// The fake's first line in interactive mode.
pub const READY: &str = r"claude \(fake\) ready; session ";
/// What the shell step after `chat` in [`PAIR`] prints.
pub const NEXT_STEP: &str = "next step ran";
pub const DEL: u8 = 0x7f;
/// The runner under test; the fakes find it in their `--allowedTools` or framing text.
pub const RUNNER: &str = env!("CARGO_BIN_EXE_agent-runner");

/// A temporary project with fake agent CLIs on `PATH`.
pub struct World {
    dir: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
}

/// A run of `agent-runner` in its own pseudo-terminal.
pub struct Term {
    session: Session,
    stty_before: String,
}

/// How a run in a terminal ended.
pub struct Finished {
    /// The runner's exit status.
    pub status: i32,
    /// Everything the terminal showed from the last expect to the end of the run.
    pub screen: String,
}

/// How a run without a terminal ended.
pub struct Ran {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ar-itest")
            .tempdir()
            .unwrap();
        for sub in [
            "bin",
            "home/.config/agent-runner",
            "project/.agent-runner/workflows",
            "run",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        for cli in ["claude", "codex"] {
            std::os::unix::fs::symlink(
                crate::helpers::fake_agent(),
                dir.path().join("bin").join(cli),
            )
            .unwrap();
        }
        Self {
            dir,
            extra_env: Vec::new(),
        }
    }

    /// A world with the [`PAIR`] workflow and this fake script.
    pub fn pair(script: &str) -> Self {
        Self::new().workflow("pair", PAIR).script(script)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The project dir, as its real path (what the fakes and the runner record as cwd).
    pub fn project(&self) -> PathBuf {
        self.path("project").canonicalize().unwrap()
    }

    /// Writes `.agent-runner/workflows/<name>.yaml` in the project (`name` may contain `/`).
    pub fn workflow(self, name: &str, yaml: &str) -> Self {
        let path = self
            .path("project/.agent-runner/workflows")
            .join(format!("{name}.yaml"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml).unwrap();
        self
    }

    /// Sets the fake's `FAKE_AGENT_SCRIPT` (one entry per agent turn, see `crates/test-helpers/src/bin/fake-agent/script.rs`).
    pub fn script(mut self, yaml: &str) -> Self {
        let path = self.path("script.yaml");
        std::fs::write(&path, yaml).unwrap();
        self.extra_env.push((
            "FAKE_AGENT_SCRIPT".into(),
            path.to_string_lossy().into_owned(),
        ));
        self
    }

    /// `agent-runner <args>` in the project dir with a clean environment.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let home = self.path("home");
        let path = match std::env::var_os("PATH") {
            Some(rest) => format!("{}:{}", self.path("bin").display(), rest.to_string_lossy()),
            None => format!("{}:/usr/bin:/bin", self.path("bin").display()),
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(self.project())
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("AGENT_RUNNER_HOME", home.join(".agent-runner"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("AGENT_RUNNER_CONFIG_DIR", home.join(".config/agent-runner"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
            .env("CODEX_HOME", home.join(".codex"))
            .env("FAKE_AGENT_LOG", self.path("fake.jsonl"))
            .env("NO_COLOR", "1")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Starts `agent-runner <args>` in a 40×120 pseudo-terminal.
    pub fn spawn(&self, args: &[&str]) -> Term {
        // The wrapper waits for a line: ptyprocess sets its default size from the parent after
        // the exec, so the 40×120 size is set by the test once spawn has returned.
        let wrapper = r#"read go; printf 'stty-before:%s\n' "$(stty -g)"; "$@"; rc=$?; printf 'stty-after:%s\nexit-status:%s\n' "$(stty -g)" "$rc""#;
        let mut wrapped = vec!["-c", wrapper, "wrapper", RUNNER];
        wrapped.extend_from_slice(args);
        let command = self.command("/bin/sh", &wrapped);
        let mut session = Session::spawn(command).unwrap();
        session.set_expect_timeout(Some(TIMEOUT));
        session.get_process_mut().set_window_size(120, 40).unwrap();
        session.send(b"go\n").unwrap();
        let captures = session
            .expect(Regex("stty-before:([^\r\n]*)\r?\n"))
            .unwrap();
        let stty_before = String::from_utf8(captures.get(1).unwrap().to_vec()).unwrap();
        Term {
            session,
            stty_before,
        }
    }

    /// Runs workflow `name` (an interactive step, then one that prints [`NEXT_STEP`]): waits for
    /// the fake's [`READY`], types `/continue` and Enter, and checks that the run succeeds.
    pub fn continue_through(&self, name: &str) -> Finished {
        let mut term = self.spawn(&[name]);
        term.expect(READY);
        term.send(b"/continue\r");
        term.expect(NEXT_STEP);
        let finished = term.finish();
        assert_eq!(finished.status, 0, "{}", finished.screen);
        finished
    }

    /// Runs `agent-runner <args>` with stdin `/dev/null` and stdout/stderr piped: no terminal.
    pub fn run_without_terminal(&self, args: &[&str]) -> Ran {
        let out = self
            .command(RUNNER, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        Ran {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every line of the fake's log.
    pub fn fake_log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("fake.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The fake's agent turns (interactive and headless invocations), in order.
    pub fn turns(&self) -> Vec<Value> {
        self.fake_log()
            .into_iter()
            .filter(|l| {
                l["kind"] == "invocation" && (l["mode"] == "interactive" || l["mode"] == "headless")
            })
            .collect()
    }

    /// Every byte the fake read from its terminal in agent turn `turn` (1-based).
    pub fn stdin_of(&self, turn: u64) -> Vec<u8> {
        self.fake_log()
            .iter()
            .filter(|l| l["kind"] == "stdin" && l["turn"] == turn)
            .flat_map(|l| hex(l["hex"].as_str().unwrap()))
            .collect()
    }

    /// The only run dir of the project.
    pub fn run_dir(&self) -> PathBuf {
        let projects = self.path("home/.agent-runner/projects");
        let runs: Vec<PathBuf> = std::fs::read_dir(&projects)
            .unwrap()
            .flatten()
            .flat_map(|project| std::fs::read_dir(project.path().join("runs")).unwrap())
            .flatten()
            .map(|run| run.path())
            .collect();
        assert_eq!(runs.len(), 1, "expected one run dir: {runs:?}");
        runs.into_iter().next().unwrap()
    }

    /// The run's audit events.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.run_dir().join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The audit events named `event`.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// The `data` of the last `step_end` of step `path`.
    pub fn step_end(&self, path: &str) -> Value {
        self.events("step_end")
            .into_iter()
            .rev()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("no step_end for {path}: {:#?}", self.audit()))["data"]
            .clone()
    }

    /// The transcript of step `path`: the name `step_end` must give it
    /// (`output/<seq of step_start>-<slug>.transcript.txt`) and its content.
    pub fn transcript(&self, path: &str) -> (String, String) {
        let seq = self
            .events("step_start")
            .iter()
            .find(|e| e["path"] == path)
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or_else(|| panic!("no step_start for {path}"));
        let name = format!("output/{seq:04}-{}.transcript.txt", path.replace('/', "."));
        let text = std::fs::read_to_string(self.run_dir().join(&name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        (name, text)
    }

    /// The run's `state.json`.
    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.run_dir().join("state.json")).unwrap())
            .unwrap()
    }
}

impl Finished {
    /// Fails unless the terminal showed `text`.
    pub fn shows(&self, text: &str) {
        assert!(
            self.screen.contains(text),
            "the terminal did not show {text:?}:\n{}",
            self.screen
        );
    }
}

impl Term {
    /// Waits for `pattern` (a regex); returns what came before it.
    pub fn expect(&mut self, pattern: &str) -> String {
        let captures = self
            .session
            .expect(Regex(pattern))
            .unwrap_or_else(|e| panic!("waiting for {pattern:?}: {e}"));
        String::from_utf8_lossy(captures.before()).into_owned()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.session.send(bytes).unwrap();
    }

    /// Resizes the terminal (the kernel sends SIGWINCH to the runner).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.session
            .get_process_mut()
            .set_window_size(cols, rows)
            .unwrap();
    }

    /// Waits for the run to end and checks the terminal modes were restored.
    pub fn finish(&mut self) -> Finished {
        let captures = self
            .session
            .expect(Regex("stty-after:([^\r\n]*)\r?\nexit-status:([0-9]+)\r?\n"))
            .unwrap_or_else(|e| panic!("waiting for the run to end: {e}"));
        let screen = String::from_utf8_lossy(captures.before()).into_owned();
        let stty_after = String::from_utf8(captures.get(1).unwrap().to_vec()).unwrap();
        let status = std::str::from_utf8(captures.get(2).unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            stty_after, self.stty_before,
            "terminal modes were not restored; the run showed:\n{screen}"
        );
        Finished { status, screen }
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The value after `flag` in an argv (a JSON array of strings).
pub fn flag_value<'a>(argv: &'a Value, flag: &str) -> Option<&'a str> {
    let argv = argv.as_array()?;
    let at = argv.iter().position(|a| a == flag)?;
    argv.get(at + 1)?.as_str()
}
