//! `list`, `show` and `log` through the real binary: exit codes, error lines on stderr, and the
//! quiet end on a closed stdout pipe (`agent-runner log | head`). Run dirs are written with the
//! library's state API into a temporary `AGENT_RUNNER_HOME`.

#![expect(
    clippy::unwrap_used,
    reason = "fixture helpers outside #[test] functions fail the test loudly"
)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use agent_runner::state::{RunDir, RunStatus, StateDoc, StateRoot, WorkflowRef};
use pretty_assertions::assert_eq;

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let project = tmp.path().join("app");
        fs::create_dir(&project).unwrap();
        Env {
            _tmp: tmp,
            home,
            project,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent-runner"));
        command
            .args(args)
            .current_dir(&self.project)
            .env("AGENT_RUNNER_HOME", &self.home);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn add_run(&self, status: RunStatus) -> RunDir {
        let project = StateRoot::new(&self.home).project(&self.project).unwrap();
        let run = project.create_run("demo", None).unwrap();
        let mut doc = StateDoc::new(run.id(), path_str(&self.project), WorkflowRef::default());
        doc.workflow.name = "demo".into();
        doc.status = status;
        run.write_state(&doc).unwrap();
        run
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn list_without_runs() {
    let env = Env::new();
    let out = env.run(&["list"]);
    assert_eq!(text(&out.stdout), "no runs in this project\n");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn unknown_and_invalid_run_ids_exit_2() {
    let env = Env::new();
    let out = env.run(&["show", "nope-1"]);
    assert_eq!(
        text(&out.stderr),
        "agent-runner: error: no run \"nope-1\" in this project (see \"agent-runner list\")\n"
    );
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["log", "a..b"]);
    assert_eq!(
        text(&out.stderr),
        "agent-runner: error: invalid run id \"a..b\"\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreadable_state_exits_3_for_show_but_lists() {
    let env = Env::new();
    let run = env.add_run(RunStatus::Failed);
    fs::write(run.state_path(), "{").unwrap();
    let out = env.run(&["show"]);
    assert!(
        text(&out.stderr).starts_with(&format!(
            "agent-runner: error: state of run {} is unreadable ({}: ",
            run.id(),
            run.state_path().display()
        )),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3));
    let out = env.run(&["list"]);
    assert!(text(&out.stdout).contains(" unreadable "));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn closed_stdout_ends_quietly() {
    let env = Env::new();
    let run = env.add_run(RunStatus::Completed);
    // Far more than a pipe buffer holds.
    let mut audit = fs::File::create(run.audit_path()).unwrap();
    for seq in 1..=5000 {
        writeln!(
            audit,
            r#"{{"ts":"2026-11-21T08:33:12.511Z","seq":{seq},"run_id":"{}","event":"warning","path":"","data":{{"message":"line {seq}"}}}}"#,
            run.id()
        )
        .unwrap();
    }
    drop(audit);
    for args in [&["log"][..], &["log", "--json"], &["log", "-f"]] {
        let mut child = env
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(text(&out.stderr), "", "{args:?}");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}
