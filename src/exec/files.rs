//! Output files of a run: created private (0600), never world-readable, and written only through
//! the run's redactor ([`crate::state::secrets`]), line by line so that a PEM private key spread
//! over several lines is hidden whole. Every output file is made here, so none can skip it; the
//! one file written as it is, [`write_agent_input`], is an input of the agent, not an output.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::state::{LineRedactor, secrets};

/// A line longer than this is redacted and written in pieces rather than kept in memory.
const LONGEST_LINE: usize = 1024 * 1024;

/// Creates (or truncates) a file with mode 0600.
fn open_private(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// An error that names the output file it is about.
fn write_error(path: &Path, err: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        err.kind(),
        format!("cannot write {}: {err}", path.display()),
    )
}

/// Writes a whole private file, redacted, for files the runtime writes itself.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut lines = secrets::active().map(|r| r.line_redactor());
    let mut out = String::with_capacity(contents.len());
    for line in contents.split_inclusive('\n') {
        push_redacted(&mut out, lines.as_mut(), line);
    }
    open_private(path)
        .and_then(|mut file| file.write_all(out.as_bytes()))
        .map_err(|err| write_error(path, err))
}

/// Writes a private file that an agent reads as its input (a prompt over the size limit), as it
/// is: redacting it would change what the agent is told, like redacting the prompt itself
/// (runs-and-state.md §8 leaves prompts alone).
pub fn write_agent_input(path: &Path, contents: &str) -> std::io::Result<()> {
    open_private(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|err| write_error(path, err))
}

/// `line` (with its newline, if any) redacted onto `out`.
fn push_redacted(out: &mut String, lines: Option<&mut LineRedactor>, line: &str) {
    let (body, newline) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    match lines {
        Some(lines) => out.push_str(&lines.redact_line(body)),
        None => out.push_str(body),
    }
    out.push_str(newline);
}

/// An output file written by an async task: redacted line by line, capped at `limit` bytes.
///
/// The open itself is synchronous: creating a file in the run's own output dir takes
/// microseconds, while `tokio::fs` would hand it to the blocking pool and back (two thread
/// wake-ups per file, four per shell step). Writes go through tokio.
pub struct OutputFile {
    file: tokio::fs::File,
    path: PathBuf,
    lines: Option<LineRedactor>,
    pending: Vec<u8>,
    written: u64,
    limit: u64,
}

impl OutputFile {
    pub fn create(path: &Path, limit: u64) -> std::io::Result<Self> {
        let file = open_private(path).map_err(|err| write_error(path, err))?;
        Ok(OutputFile {
            file: tokio::fs::File::from_std(file),
            path: path.to_path_buf(),
            lines: secrets::active().map(|r| r.line_redactor()),
            pending: Vec::new(),
            written: 0,
            limit,
        })
    }

    /// Takes the next bytes of the stream; complete lines are written out.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.pending.extend_from_slice(bytes);
        let cut = match self.pending.iter().rposition(|&b| b == b'\n') {
            Some(last_newline) => last_newline + 1,
            None if self.pending.len() > LONGEST_LINE => self.pending.len(),
            None => return Ok(()),
        };
        let rest = self.pending.split_off(cut);
        let done = std::mem::replace(&mut self.pending, rest);
        self.write_lines(&done).await
    }

    /// Writes what is left and flushes.
    pub async fn finish(mut self) -> std::io::Result<()> {
        let done = std::mem::take(&mut self.pending);
        self.write_lines(&done).await?;
        let path = self.path.clone();
        self.file
            .flush()
            .await
            .map_err(|err| write_error(&path, err))
    }

    async fn write_lines(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() || self.written >= self.limit {
            return Ok(());
        }
        let text = String::from_utf8_lossy(bytes);
        let mut redacted = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            push_redacted(&mut redacted, self.lines.as_mut(), line);
        }
        let room = usize::try_from(self.limit - self.written).unwrap_or(usize::MAX);
        let out = &redacted.as_bytes()[..redacted.len().min(room)];
        self.file
            .write_all(out)
            .await
            .map_err(|err| write_error(&self.path, err))?;
        self.written += out.len() as u64;
        Ok(())
    }
}
