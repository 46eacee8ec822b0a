//! Running `git`: always an argument vector (never a shell string), in a given directory, with
//! its output read as text. A value from a workflow or an item reaches git only as one argument.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use super::error::WorktreeError;

/// Runs `git -C <dir> <args>` and returns its stdout, trimmed of the final newline.
///
/// Errors: git missing ([`WorktreeError::GitMissing`]) or exiting non-zero
/// ([`WorktreeError::Git`], with its first stderr line).
pub fn run<I, S>(dir: &Path, args: I) -> Result<String, WorktreeError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(&args)
        .stdin(Stdio::null())
        // Never open an editor or a pager, never ask for credentials.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .output()
        .map_err(WorktreeError::GitMissing)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .map(|l| l.trim_start_matches("fatal: ").trim())
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .take(2)
            .collect();
        return Err(WorktreeError::Git {
            command: format!("git {}", words.join(" ")),
            message: first.to_owned(),
        });
    }
    let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    while stdout.ends_with('\n') {
        stdout.pop();
    }
    Ok(stdout)
}

/// Whether `git <args>` succeeds in `dir` (a question, such as "does this ref exist").
pub fn succeeds<I, S>(dir: &Path, args: I) -> Result<bool, WorktreeError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match run(dir, args) {
        Ok(_) => Ok(true),
        Err(WorktreeError::Git { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}
