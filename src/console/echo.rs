//! A shell step's own output shown on the console as it arrives, redacted like everything else
//! the runner prints.
//!
//! Redaction needs whole lines (a secret can arrive split over two reads), so text is shown up to
//! its last line end (`\n`, or `\r` for progress lines); the unfinished rest waits for the next
//! read, or is shown as it is when nothing more arrives for [`HOLD`] (a prompt, a progress dot).
//!
//! In a parallel branch, each line gets the branch's `[label] ` prefix when the stream is a
//! terminal (control.md §8); redirected output keeps the step's own bytes.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// How long an unfinished line waits for the rest before it is shown anyway.
pub const HOLD: Duration = Duration::from_millis(50);

/// Where a step's output is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The echo of one output stream.
#[derive(Debug)]
pub struct Echo {
    stream: Stream,
    pending: Vec<u8>,
    /// The branch prefix put before each line, when the stream is a terminal.
    prefix: Option<String>,
    /// The next byte shown starts a line.
    line_start: bool,
}

impl Echo {
    pub fn new(stream: Stream) -> Self {
        Echo {
            stream,
            pending: Vec::new(),
            prefix: None,
            line_start: true,
        }
    }

    /// The echo of a parallel branch's step: its lines carry the branch's `[label] ` (in its
    /// colour on a colour terminal) when the stream is a terminal.
    pub fn in_branch(stream: Stream, label: Option<&str>, colour: u8) -> Self {
        use std::io::IsTerminal;
        let terminal = match stream {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        };
        let mut echo = Echo::new(stream);
        if let Some(label) = label.filter(|_| terminal) {
            echo.prefix = Some(super::run_lines::branch_prefix(
                label,
                colour,
                super::run_lines::colour_enabled(true),
            ));
        }
        echo
    }

    /// Whether an unfinished line is waiting (the caller then reads with a [`HOLD`] timeout).
    pub fn holding(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Shows the complete lines of what has arrived so far.
    pub async fn write(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            let rest = self.pending.split_off(end + 1);
            let lines = std::mem::replace(&mut self.pending, rest);
            self.show(&lines).await;
        }
    }

    /// Shows the unfinished line as it is.
    pub async fn flush(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        self.show(&rest).await;
    }

    async fn show(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let text = crate::state::secrets::redact(&text);
        let text = match &self.prefix {
            Some(prefix) => {
                let (labelled, line_start) = prefix_lines(&text, prefix, self.line_start);
                self.line_start = line_start;
                std::borrow::Cow::Owned(labelled)
            }
            None => text,
        };
        super::spinner::clear();
        // A closed console (e.g. `agent-runner wf | head`) must not fail the step.
        let _ = match self.stream {
            Stream::Stdout => {
                let mut out = tokio::io::stdout();
                out.write_all(text.as_bytes()).await.and(out.flush().await)
            }
            Stream::Stderr => {
                let mut err = tokio::io::stderr();
                err.write_all(text.as_bytes()).await.and(err.flush().await)
            }
        };
    }
}

/// `text` with `prefix` before each line that starts in it (the first one only when
/// `line_start`); also whether the text ends at a line end.
fn prefix_lines(text: &str, prefix: &str, line_start: bool) -> (String, bool) {
    let mut out = String::with_capacity(text.len() + prefix.len());
    let mut at_start = line_start;
    for piece in text.split_inclusive(['\n', '\r']) {
        if at_start {
            out.push_str(prefix);
        }
        out.push_str(piece);
        at_start = piece.ends_with(['\n', '\r']);
    }
    (out, at_start)
}

#[cfg(test)]
mod tests {
    use super::prefix_lines;

    #[test]
    fn every_line_gets_the_prefix_once_even_across_pieces() {
        assert_eq!(
            prefix_lines("a\nb\n", "[x] ", true),
            ("[x] a\n[x] b\n".to_owned(), true)
        );
        let (first, start) = prefix_lines("half", "[x] ", true);
        assert_eq!((first.as_str(), start), ("[x] half", false));
        assert_eq!(
            prefix_lines(" done\n", "[x] ", start),
            (" done\n".to_owned(), true)
        );
    }
}
