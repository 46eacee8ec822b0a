//! Shared set-up for the end-to-end tests of the built-in workflows and the examples.
//!
//! A test starts from the usual [`Test`] builder and adds what the built-ins meet in real life:
//! the fake `claude` and `codex` (the `fake-agent` binary linked under both names, driven turn by
//! turn by one `FAKE_AGENT_SCRIPT`: a list of the turns of both CLIs in run order, or, for agents
//! that run side by side, a `by_prompt` mapping that picks each turn by its prompt), a project that is a git repository whose `origin` is a local bare
//! repository, and a fake `gh` that remembers whether a pull request was created.
//!
//! Layout of the temp dir, next to the builder's `project/`, `home/` and `bin/`: `script.yaml`,
//! `agent.log` (the fake agents' JSON log), `remote.git` (the bare remote) and `gh/` (the fake
//! gh's state: `pr` once a PR exists, `log` with every argv).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use expectrl::{Eof, Session, WaitStatus};
use serde_json::Value;

use crate::test::{Output, Test};

/// The fake `gh`: `pr create` records the PR and prints its URL; `pr view` fails until then, and
/// afterwards prints the URL (for `--json url --jq .url`) or a short summary. Every call appends
/// its argv to `$FAKE_GH_DIR/log`: the arguments NUL-terminated, then a record separator (0x1e).
const FAKE_GH: &str = r#"#!/bin/sh
printf '%s\0' "$@" >> "$FAKE_GH_DIR/log"
printf '\036' >> "$FAKE_GH_DIR/log"
url=https://github.example/acme/app/pull/1
case "$1 $2" in
  "pr create")
    if [ -f "$FAKE_GH_DIR/pr" ]; then
      echo "a pull request for branch \"$(git branch --show-current)\" already exists" >&2
      exit 1
    fi
    git branch --show-current > "$FAKE_GH_DIR/pr"
    echo "$url"
    ;;
  "pr view")
    if [ ! -f "$FAKE_GH_DIR/pr" ]; then
      echo "no pull requests found for branch \"$(git branch --show-current)\"" >&2
      exit 1
    fi
    case " $* " in
      *" --json url "*) echo "$url" ;;
      *) echo "title: a pull request"; echo "url: $url" ;;
    esac
    ;;
  *)
    echo "fake gh: unsupported command: $*" >&2
    exit 2
    ;;
esac
"#;

/// The URL the fake `gh` gives every pull request.
pub const PR_URL: &str = "https://github.example/acme/app/pull/1";

/// Links the fake `claude` and `codex` into `bin/` and points them at `script` (a
/// `FAKE_AGENT_SCRIPT` YAML list, one entry per agent turn in run order); also installs the fake
/// `gh`. Agent config dirs live under the temp home. An empty script gives every turn the default
/// answer.
pub fn with_fakes(test: Test, script: &str) -> Test {
    let root = test.path().to_path_buf();
    for cli in ["claude", "codex"] {
        std::os::unix::fs::symlink(crate::helpers::fake_agent(), root.join("bin").join(cli))
            .expect("link the fake agent");
    }
    // An empty script means "every turn succeeds with the default answer".
    let script = if script.trim().is_empty() {
        "[]"
    } else {
        script
    };
    std::fs::write(root.join("script.yaml"), script).expect("write the agent script");
    std::fs::create_dir_all(root.join("gh")).expect("create the gh dir");
    let mut test = test.write_bin("gh", FAKE_GH);
    for (key, value) in fake_env(&root) {
        test = test.env(&key, &value);
    }
    test
}

/// The variables that point the fakes at the files of the temp dir `root`.
pub fn fake_env(root: &Path) -> Vec<(String, String)> {
    [
        ("FAKE_AGENT_SCRIPT", "script.yaml"),
        ("FAKE_AGENT_LOG", "agent.log"),
        ("CLAUDE_CONFIG_DIR", "home/.claude"),
        ("CODEX_HOME", "home/.codex"),
        ("FAKE_GH_DIR", "gh"),
    ]
    .into_iter()
    .map(|(key, rel)| (key.to_string(), root.join(rel).display().to_string()))
    .collect()
}

/// `agent-runner <args>` in the project of the temp dir `root`, for a run outside the `Test`
/// builder (in a pseudo-terminal): the builder's clean environment, the fakes' variables, `TERM`,
/// and `extra_path` between `bin/` and the inherited `PATH`.
pub fn pty_command(root: &Path, args: &[&str], extra_path: &[PathBuf]) -> Command {
    let home = root.join("home");
    let mut path = vec![root.join("bin")];
    path.extend(extra_path.iter().cloned());
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut command = Command::new(env!("CARGO_BIN_EXE_agent-runner"));
    command
        .args(args)
        .current_dir(root.join("project"))
        .env_clear()
        .env("PATH", std::env::join_paths(path).expect("a valid PATH"))
        .env("HOME", &home)
        .env("AGENT_RUNNER_HOME", home.join(".agent-runner"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("AGENT_RUNNER_CONFIG_DIR", home.join(".config/agent-runner"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .env("OPENSPEC_TELEMETRY", "0")
        .envs(fake_env(root));
    command
}

/// Runs `command` in a pseudo-terminal and plays the user of its interactive steps: after each
/// marker appears (printed by a fake agent turn), types `/continue`, pauses, and presses Enter.
/// Returns the exit status and everything the terminal showed.
pub fn run_in_pty(command: Command, markers: &[&str]) -> (i32, String) {
    let mut session = Session::spawn(command).expect("spawn in a pseudo-terminal");
    session.set_expect_timeout(Some(Duration::from_secs(90)));
    let mut screen = Vec::new();
    for marker in markers {
        let found = session.expect(*marker).unwrap_or_else(|e| {
            panic!("no {marker:?} ({e}):\n{}", String::from_utf8_lossy(&screen))
        });
        screen.extend_from_slice(found.before());
        screen.extend_from_slice(marker.as_bytes());
        // Typed like a person: the command, a pause, then Enter.
        session.send("/continue").expect("type");
        std::thread::sleep(Duration::from_millis(200));
        session.send("\r").expect("type");
    }
    let rest = session.expect(Eof).expect("the run ends");
    screen.extend_from_slice(rest.before());
    for part in rest.matches() {
        screen.extend_from_slice(part);
    }
    let screen = String::from_utf8_lossy(&screen).to_string();
    let status = match session.get_process_mut().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("the run ended with {other:?}:\n{screen}"),
    };
    (status, screen)
}

/// Makes the project a git repository on `main` with the files written so far committed, and
/// `origin` a bare repository in the temp dir that already has `main`.
pub fn git_repo(test: Test) -> Test {
    let root = test.path().to_path_buf();
    std::fs::write(
        root.join("home/.gitconfig"),
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
    )
    .expect("write .gitconfig");
    let project = root.join("project");
    git(&root, &["init", "-q", "--bare", "remote.git"]);
    git(&project, &["init", "-q"]);
    git(&project, &["add", "-A"]);
    git(
        &project,
        &["commit", "-q", "--allow-empty", "-m", "initial"],
    );
    git(&project, &["remote", "add", "origin", "../remote.git"]);
    git(&project, &["push", "-q", "origin", "main"]);
    test
}

/// Runs git in `dir` with the temp home's configuration; panics when it fails; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let home = dir
        .ancestors()
        .find(|d| d.join("home").is_dir())
        .map(|d| d.join("home"))
        .expect("a temp dir with home/");
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Something that owns a temp dir laid out as described above: a finished [`Output`], or the
/// dir itself (for runs outside the builder, such as the ones in a pseudo-terminal).
pub trait TempRoot {
    fn root(&self) -> &Path;
}

impl TempRoot for Output {
    fn root(&self) -> &Path {
        self.tempdir.path()
    }
}

impl TempRoot for Path {
    fn root(&self) -> &Path {
        self
    }
}

/// Git in the bare remote of a run.
pub fn remote_git(at: &(impl TempRoot + ?Sized), args: &[&str]) -> String {
    git(&at.root().join("remote.git"), args)
}

/// Git in the project of a run.
pub fn project_git(at: &(impl TempRoot + ?Sized), args: &[&str]) -> String {
    git(&at.root().join("project"), args)
}

/// One agent turn as the fake logged it.
pub struct Turn {
    pub cli: String,
    pub mode: String,
    pub session_id: String,
    /// Every argument, joined by spaces (the prompt is one of them).
    pub argv: String,
    /// `AGENT_RUNNER_RUN_DIR` as the agent saw it.
    pub run_dir: String,
}

impl Turn {
    /// Panics unless the turn's arguments contain `text`.
    pub fn assert_prompt_has(&self, text: &str) {
        assert!(
            self.argv.contains(text),
            "the {} turn lacks {text:?}:\n{}",
            self.cli,
            self.argv
        );
    }
}

/// The agent turns of a finished run, in order (auth checks and refused argv left out).
pub fn turns(at: &(impl TempRoot + ?Sized)) -> Vec<Turn> {
    let log = std::fs::read_to_string(at.root().join("agent.log")).unwrap_or_default();
    log.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON log line"))
        .filter(|v| v["kind"] == "invocation" && v["turn"].is_u64())
        .map(|v| Turn {
            cli: v["cli"].as_str().unwrap_or_default().to_string(),
            mode: v["mode"].as_str().unwrap_or_default().to_string(),
            session_id: v["session_id"].as_str().unwrap_or_default().to_string(),
            argv: v["argv"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            run_dir: v["env"]["AGENT_RUNNER_RUN_DIR"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

/// The CLIs of the turns, in order, e.g. `["claude", "codex"]`.
pub fn clis(turns: &[Turn]) -> Vec<&str> {
    turns.iter().map(|t| t.cli.as_str()).collect()
}

/// Every `gh` call of a finished run, as its argument list.
pub fn gh_calls(at: &(impl TempRoot + ?Sized)) -> Vec<Vec<String>> {
    let log = std::fs::read(at.root().join("gh/log")).unwrap_or_default();
    String::from_utf8_lossy(&log)
        .split('\u{1e}')
        .filter(|call| !call.is_empty())
        .map(|call| {
            call.split_terminator('\0')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The value after `flag` in a gh call.
pub fn flag<'a>(call: &'a [String], flag: &str) -> Option<&'a str> {
    let at = call.iter().position(|a| a == flag)?;
    call.get(at + 1).map(String::as_str)
}
