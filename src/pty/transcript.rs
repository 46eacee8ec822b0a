//! The step transcript: the agent's output as plain text (interactive.md §9).
//!
//! An ANSI stripper fed with the forwarded output. Escape sequences (CSI, OSC and the other
//! strings, two-byte escapes, charset designations) are dropped; CRLF becomes LF; a lone CR starts
//! the current line over, so progress bars and spinners leave only their last state; Backspace
//! removes the previous character. Only the last 1 MiB is kept, and a cut transcript says so on its
//! first line. User keystrokes never reach it: the relay feeds it child output only.
//!
//! Hand-written rather than built on `vte`, which is slower on the relay's hot path: `cargo bench
//! --bench pty` measured this stripper at 834 MB/s (414 on a busier machine) and `vte`'s parser
//! alone, with callbacks that only count, at 506 MB/s (330), before any text is kept.

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
/// How much of the stripped text is kept.
pub const TRANSCRIPT_LIMIT: usize = 1024 * 1024;
/// The first line of a transcript that lost its beginning.
pub const TRUNCATED_HEADER: &str = "[transcript truncated; showing the last 1 MiB]\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After CR: LF makes it a line end; anything else rewrites the line.
    CarriageReturn,
    Escape,
    /// `ESC` + intermediate bytes (`ESC ( B`): up to the final byte.
    EscapeIntermediate,
    Csi,
    /// OSC/DCS/APC/PM/SOS, until BEL or `ESC \`.
    Str,
    StrEscape,
}

/// Plain text of the child's output, bounded to the last [`TRANSCRIPT_LIMIT`] bytes.
#[derive(Debug, Clone)]
pub struct Transcript {
    state: State,
    /// Finished lines, each ending in LF.
    text: Vec<u8>,
    line: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::with_limit(TRANSCRIPT_LIMIT)
    }
}

impl Transcript {
    /// An empty transcript keeping the last 1 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty transcript keeping the last `limit` bytes (tests use small limits).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            state: State::Ground,
            text: Vec::new(),
            line: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Adds a chunk of child output.
    pub fn push(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some((&byte, tail)) = rest.split_first() {
            // Most output is runs of plain text: copy each run at once instead of byte by byte.
            if self.state == State::Ground {
                let run = rest
                    .iter()
                    .position(|&b| !is_plain(b))
                    .unwrap_or(rest.len());
                if run > 0 {
                    self.line.extend_from_slice(&rest[..run]);
                    rest = &rest[run..];
                    continue;
                }
            }
            self.step(byte);
            rest = tail;
        }
        if self.text.len() > self.limit.saturating_mul(2) {
            let excess = self.text.len() - self.limit;
            self.text.drain(..excess);
            self.truncated = true;
        }
        if self.line.len() > self.limit {
            let excess = self.line.len() - self.limit;
            self.line.drain(..excess);
            self.text.clear();
            self.truncated = true;
        }
    }

    /// The transcript text: the last `limit` bytes of the stripped output, cut at a character
    /// boundary, with the truncation header when anything was dropped.
    pub fn render(&self) -> String {
        let mut all = Vec::with_capacity(self.text.len() + self.line.len());
        all.extend_from_slice(&self.text);
        all.extend_from_slice(&self.line);
        let mut start = all.len().saturating_sub(self.limit);
        let truncated = self.truncated || start > 0;
        while all.get(start).is_some_and(|&b| b & 0xC0 == 0x80) {
            start += 1;
        }
        let body = String::from_utf8_lossy(&all[start..]);
        if truncated {
            format!("{TRUNCATED_HEADER}{body}")
        } else {
            body.into_owned()
        }
    }

    fn step(&mut self, byte: u8) {
        match self.state {
            State::Ground => self.text_byte(byte),
            State::CarriageReturn => {
                self.state = State::Ground;
                if byte == b'\n' {
                    self.end_line();
                } else {
                    self.line.clear();
                    self.text_byte(byte);
                }
            }
            State::Escape => {
                self.state = match byte {
                    b'[' => State::Csi,
                    b']' | b'P' | b'_' | b'^' | b'X' => State::Str,
                    0x20..=0x2f => State::EscapeIntermediate,
                    ESC => State::Escape,
                    _ => State::Ground,
                }
            }
            State::EscapeIntermediate => {
                if !(0x20..=0x2f).contains(&byte) {
                    self.state = State::Ground;
                }
            }
            State::Csi => {
                if (0x40..0x7f).contains(&byte) {
                    self.state = State::Ground;
                } else if !(0x20..0x40).contains(&byte) {
                    self.state = State::Ground;
                    self.step(byte);
                }
            }
            State::Str => match byte {
                BEL => self.state = State::Ground,
                ESC => self.state = State::StrEscape,
                _ => {}
            },
            State::StrEscape => {
                self.state = State::Escape;
                if byte == b'\\' {
                    self.state = State::Ground;
                } else {
                    self.step(byte);
                }
            }
        }
    }

    fn text_byte(&mut self, byte: u8) {
        if is_plain(byte) {
            self.line.push(byte);
            return;
        }
        match byte {
            ESC => self.state = State::Escape,
            b'\n' => self.end_line(),
            b'\r' => self.state = State::CarriageReturn,
            0x08 => {
                while let Some(b) = self.line.pop() {
                    if b & 0xC0 != 0x80 {
                        break;
                    }
                }
            }
            _ => {}
        }
    }

    fn end_line(&mut self) {
        self.text.append(&mut self.line);
        self.text.push(b'\n');
    }
}

/// A byte that is kept as it is in ground state: printable ASCII, tab, and UTF-8 bytes.
fn is_plain(byte: u8) -> bool {
    byte == b'\t' || (byte >= 0x20 && byte != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::splits::for_each_split;

    fn stripped(chunks: &[&[u8]]) -> String {
        let mut transcript = Transcript::new();
        for chunk in chunks {
            transcript.push(chunk);
        }
        transcript.render()
    }

    #[test]
    fn escape_sequences_are_removed_and_crlf_becomes_lf() {
        let stream = b"\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07\x1b(Bplain\x1bP+q\x1b\\ \x1b7ok\n";
        for_each_split(stream, |chunks| {
            assert_eq!(stripped(chunks), "red\nplain ok\n", "split {chunks:?}");
        });
    }

    #[test]
    fn a_lone_cr_rewrites_the_line() {
        let stream = b"first\nprogress 10%\rprogress 99%\r\x1b[Kdone\r\n";
        for_each_split(stream, |chunks| {
            assert_eq!(stripped(chunks), "first\ndone\n", "split {chunks:?}");
        });
    }

    #[test]
    fn tabs_and_utf8_are_kept_and_other_controls_dropped() {
        let stream = "a\tb\x7fc\x07d \u{e9}\u{2603}\x00e\n".as_bytes();
        for_each_split(stream, |chunks| {
            assert_eq!(
                stripped(chunks),
                "a\tbcd \u{e9}\u{2603}e\n",
                "split {chunks:?}"
            );
        });
    }

    #[test]
    fn backspace_removes_a_character() {
        assert_eq!(stripped(&[b"ab\x08c\xc3\xa9\x08!"]), "ac!");
    }

    #[test]
    fn only_the_last_part_is_kept_with_a_header() {
        let mut transcript = Transcript::with_limit(10);
        transcript.push(b"0123456789\nabc\n");
        assert_eq!(
            transcript.render(),
            format!("{TRUNCATED_HEADER}56789\nabc\n")
        );
        let mut transcript = Transcript::with_limit(10);
        transcript.push(b"short\n");
        assert_eq!(transcript.render(), "short\n");
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let mut transcript = Transcript::with_limit(4);
        transcript.push("aé\u{e9}z".as_bytes());
        assert_eq!(transcript.render(), format!("{TRUNCATED_HEADER}\u{e9}z"));
    }

    #[test]
    fn long_output_stays_bounded() {
        let mut transcript = Transcript::with_limit(100);
        for _ in 0..1000 {
            transcript.push(b"0123456789\n");
        }
        assert!(transcript.text.len() <= 200);
        let rendered = transcript.render();
        assert!(rendered.starts_with(TRUNCATED_HEADER));
        assert_eq!(rendered.len(), TRUNCATED_HEADER.len() + 100);
    }
}
