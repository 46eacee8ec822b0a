//! A shell step's own output shown on the console as it arrives, redacted like everything else
//! the runner prints.
//!
//! Redaction needs whole lines (a secret can arrive split over two reads), so text is shown up to
//! its last line end (`\n`, or `\r` for progress lines); the unfinished rest waits for the next
//! read, or is shown as it is when nothing more arrives for [`HOLD`] (a prompt, a progress dot).

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
}

impl Echo {
    pub fn new(stream: Stream) -> Self {
        Echo {
            stream,
            pending: Vec::new(),
        }
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

    async fn show(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let text = crate::state::secrets::redact(&text);
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
