//! Preflight of launchers (docs/launchers.md): every launcher a run's steps will use must have
//! its program installed here, and a launcher with `check` must run its probe through to the
//! other side with success, before the first step. Problems are named with the step that needs
//! the launcher and the fix, and end the run like every preflight problem (exit 4).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::remote::{RemoteCommand, RemoteEnv, local_argv};
use crate::workflow::launcher::Launcher;

/// How long a probe may take.
const CHECK_LIMIT: Duration = Duration::from_secs(30);

/// The launchers of a run, each with the first step that uses it.
#[derive(Default)]
pub struct Launchers {
    found: Vec<(Launcher, String)>,
}

impl Launchers {
    pub fn add(&mut self, launcher: &Launcher, step: &str) {
        if !self.found.iter().any(|(known, _)| known == launcher) {
            self.found.push((launcher.clone(), step.to_owned()));
        }
    }

    /// One message per launcher whose program is missing or whose probe failed.
    pub fn problems(&self, project: &Path) -> Vec<String> {
        let path_var = std::env::var_os("PATH");
        let mut problems = Vec::new();
        for (launcher, step) in &self.found {
            let program = launcher.program();
            if crate::agents::find_on_path(program, path_var.as_deref()).is_none() {
                problems.push(format!(
                    "the launcher program \"{program}\" is not installed or not on PATH (needed by step \"{step}\"); install it, or fix \"launcher\" (docs/launchers.md)"
                ));
                continue;
            }
            if let Some(check) = &launcher.check
                && let Some(why) = probe(launcher, check, project)
            {
                problems.push(format!(
                    "the launcher check \"{check}\" through \"{}\" failed (needed by step \"{step}\"): {why}; make the other side reachable, or fix \"launcher\" (docs/launchers.md)",
                    shown(launcher)
                ));
            }
        }
        problems
    }
}

/// The launcher's words as written.
fn shown(launcher: &Launcher) -> String {
    launcher
        .argv
        .iter()
        .map(|w| w.text())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `check` through the launcher in the project directory; `None` when it succeeded. A
/// launcher whose words are templates is not probed: its words are known only when a step runs.
fn probe(launcher: &Launcher, check: &str, project: &Path) -> Option<String> {
    if launcher.argv.iter().any(|w| !w.is_static()) {
        return None;
    }
    let words: Vec<String> = launcher.argv.iter().map(|w| w.text().to_owned()).collect();
    let argv = ["sh".to_owned(), "-c".to_owned(), check.to_owned()];
    let command = RemoteCommand {
        workdir: project,
        env: RemoteEnv::None,
        argv: &argv,
        interactive: false,
    };
    let local = local_argv(&words, launcher.shell, &command);
    let (program, args) = local.split_first()?;
    let mut child = match Command::new(program)
        .args(args)
        // Held open while the probe runs, as for a step (the other side stops at its end).
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => return Some(format!("cannot start {program}: {err}")),
    };
    let _held = child.stdin.take();
    let deadline = Instant::now() + CHECK_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Some(format!("no answer within {}s", CHECK_LIMIT.as_secs()));
            }
            Err(err) => return Some(err.to_string()),
        }
    };
    if status.success() {
        return None;
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let code = status.code().map_or_else(
        || "killed by a signal".to_owned(),
        |c| format!("exit status {c}"),
    );
    Some(if last.is_empty() {
        code
    } else {
        format!("{code}: {}", last.trim())
    })
}
