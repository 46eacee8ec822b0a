//! The output filter: the agent's output on its way to the user (interactive.md §4).
//!
//! Everything is forwarded unchanged except the continue sentinel, the OSC sequence
//! `ESC ] 9999 ; agent-runner ; continue ; <token>` ended by BEL or `ESC \`. The filter finds it
//! however the output is split across reads and removes it; a matching token is a trigger, a wrong
//! one a warning.
//!
//! Only an OSC whose text so far could still become the sentinel is held back; any other OSC is
//! released the moment it diverges, so ordinary escape sequences (titles, hyperlinks) pass with no
//! delay. A sentinel-shaped OSC that is never terminated is released unchanged once it reaches
//! 8 KiB. A trailing lone ESC is held for the next chunk, because it may start the sentinel; the
//! output pump calls [`OutputFilter::flush`] when the agent falls quiet.
//!
//! Hand-written rather than built on `vte`, which is slower on this hot path: `cargo bench --bench
//! pty` measured this filter at 2545 MB/s (1243 on a busier machine) and `vte`'s parser, with
//! callbacks that only count, at 506 MB/s (330). `vte` also reports sequences without their bytes,
//! while everything but the sentinel must be forwarded unchanged.

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const SENTINEL_PREFIX: &[u8] = b"9999;agent-runner;continue;";
/// The most an unterminated sentinel-shaped OSC is held before it is released unchanged.
const MAX_HELD_OSC: usize = 8 * 1024;

/// What the filter found in the output, besides bytes to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputEvent {
    /// The sentinel with the step's token: the step is complete.
    Sentinel,
    /// A sentinel with another token (a stale step, or a guess); it was dropped.
    WrongToken,
}

/// What one chunk of output turned into.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilteredOutput {
    /// Bytes for the user's terminal, the screen model and the transcript.
    pub forward: Vec<u8>,
    /// Sentinels found in this chunk, in order.
    pub events: Vec<OutputEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// A lone ESC, held.
    Escape,
    /// Inside a sentinel-shaped OSC; `osc` holds it from its `ESC ]`.
    Osc,
    /// ESC inside that OSC: `\` ends it.
    OscEscape,
}

/// The output state machine. Feed it chunks exactly as read.
#[derive(Debug, Clone)]
pub struct OutputFilter {
    token: Vec<u8>,
    state: State,
    osc: Vec<u8>,
}

impl OutputFilter {
    /// A filter that accepts the sentinel with `token`.
    pub fn new(token: &str) -> Self {
        Self {
            token: token.as_bytes().to_vec(),
            state: State::Ground,
            osc: Vec::new(),
        }
    }

    /// Processes one chunk of output.
    pub fn feed(&mut self, chunk: &[u8]) -> FilteredOutput {
        let mut out = FilteredOutput::default();
        self.feed_into(chunk, &mut out);
        out
    }

    /// Processes one chunk of output, appending to `out` (which the caller can reuse, so a
    /// chunk costs no allocation). Text outside escape sequences is copied in runs: only the bytes
    /// after an ESC are looked at one by one.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut FilteredOutput) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.state == State::Ground {
                let run = memchr::memchr(ESC, rest).unwrap_or(rest.len());
                out.forward.extend_from_slice(&rest[..run]);
                rest = &rest[run..];
            }
            if let Some((&byte, tail)) = rest.split_first() {
                self.step(byte, out);
                rest = tail;
            }
        }
    }

    /// The agent fell quiet: releases a held lone ESC. A sentinel-shaped OSC stays held, since
    /// its end may still come.
    pub fn flush(&mut self) -> Vec<u8> {
        if self.state == State::Escape {
            self.state = State::Ground;
            return vec![ESC];
        }
        Vec::new()
    }

    fn step(&mut self, byte: u8, out: &mut FilteredOutput) {
        match self.state {
            State::Ground => {
                if byte == ESC {
                    self.state = State::Escape;
                } else {
                    out.forward.push(byte);
                }
            }
            State::Escape => match byte {
                b']' => {
                    self.osc.clear();
                    self.osc.extend_from_slice(&[ESC, byte]);
                    self.state = State::Osc;
                }
                // The held ESC was alone; this one may start the sentinel.
                ESC => out.forward.push(ESC),
                _ => {
                    out.forward.extend_from_slice(&[ESC, byte]);
                    self.state = State::Ground;
                }
            },
            State::Osc => match byte {
                BEL => self.finish_osc(&[BEL], out),
                ESC => self.state = State::OscEscape,
                _ => {
                    self.osc.push(byte);
                    let text = &self.osc[2..];
                    let shared = text.len().min(SENTINEL_PREFIX.len());
                    if text[..shared] != SENTINEL_PREFIX[..shared] || self.osc.len() >= MAX_HELD_OSC
                    {
                        self.release(out);
                    }
                }
            },
            State::OscEscape => {
                if byte == b'\\' {
                    self.finish_osc(b"\x1b\\", out);
                } else {
                    // ESC cancels the string: release it unchanged and read the ESC afresh.
                    self.release(out);
                    self.state = State::Escape;
                    self.step(byte, out);
                }
            }
        }
    }

    fn finish_osc(&mut self, terminator: &[u8], out: &mut FilteredOutput) {
        match self.osc[2..].strip_prefix(SENTINEL_PREFIX) {
            Some(token) => {
                out.events.push(if token == self.token.as_slice() {
                    OutputEvent::Sentinel
                } else {
                    OutputEvent::WrongToken
                });
                self.osc.clear();
                self.state = State::Ground;
            }
            None => {
                self.release(out);
                out.forward.extend_from_slice(terminator);
            }
        }
    }

    fn release(&mut self, out: &mut FilteredOutput) {
        out.forward.append(&mut self.osc);
        self.state = State::Ground;
    }
}

/// The sentinel for `token`, as an agent (or `agent-runner step continue`) writes it.
pub fn sentinel(token: &str) -> Vec<u8> {
    let mut bytes = vec![ESC, b']'];
    bytes.extend_from_slice(SENTINEL_PREFIX);
    bytes.extend_from_slice(token.as_bytes());
    bytes.push(BEL);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::splits::for_each_split;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn run(chunks: &[&[u8]]) -> FilteredOutput {
        let mut filter = OutputFilter::new(TOKEN);
        let mut all = FilteredOutput::default();
        for chunk in chunks {
            let out = filter.feed(chunk);
            all.forward.extend(out.forward);
            all.events.extend(out.events);
        }
        all.forward.extend(filter.flush());
        all
    }

    fn assert_every_split(stream: &[u8], forward: &[u8], events: &[OutputEvent]) {
        for_each_split(stream, |chunks| {
            let out = run(chunks);
            assert_eq!(out.forward, forward, "split {chunks:?}");
            assert_eq!(out.events, events, "split {chunks:?}");
        });
    }

    #[test]
    fn sentinel_split_over_chunks_is_detected_and_removed() {
        let stream = [b"done.\r\n".as_slice(), &sentinel(TOKEN), b"\x1b[0m$ "].concat();
        assert_every_split(&stream, b"done.\r\n\x1b[0m$ ", &[OutputEvent::Sentinel]);
    }

    #[test]
    fn sentinel_ended_by_st_is_detected() {
        let stream = format!("a\x1b]9999;agent-runner;continue;{TOKEN}\x1b\\b");
        assert_every_split(stream.as_bytes(), b"ab", &[OutputEvent::Sentinel]);
    }

    #[test]
    fn wrong_token_is_removed_and_reported() {
        let stream = b"a\x1b]9999;agent-runner;continue;stale\x07b";
        assert_every_split(stream, b"ab", &[OutputEvent::WrongToken]);
        let stream = format!("\x1b]9999;agent-runner;continue;{TOKEN}0\x07");
        assert_every_split(stream.as_bytes(), b"", &[OutputEvent::WrongToken]);
    }

    #[test]
    fn other_osc_and_escape_sequences_pass_through() {
        let stream = b"\x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\x1b[31m\x1b7\x1b]9999;other\x07";
        assert_every_split(stream, stream, &[]);
    }

    #[test]
    fn a_cancelled_sentinel_prefix_passes_through() {
        let stream = b"\x1b]9999;agent-runner\x1b[1mx\x1b]9999;agent-runner;continue\x07";
        assert_every_split(stream, stream, &[]);
    }

    #[test]
    fn an_unterminated_sentinel_shaped_osc_is_released_at_8_kib() {
        let mut filter = OutputFilter::new(TOKEN);
        let start = b"\x1b]9999;agent-runner;continue;";
        assert!(filter.feed(start).forward.is_empty());
        let filler = vec![b'x'; MAX_HELD_OSC - start.len() - 1];
        assert!(filter.feed(&filler).forward.is_empty());
        let out = filter.feed(b"yz");
        assert_eq!(out.forward, [start.as_slice(), &filler, b"yz"].concat());
        assert!(out.events.is_empty());
    }

    #[test]
    fn a_trailing_escape_is_held_until_flushed() {
        let mut filter = OutputFilter::new(TOKEN);
        assert_eq!(filter.feed(b"ab\x1b").forward, b"ab");
        assert_eq!(filter.flush(), b"\x1b");
        assert_eq!(filter.feed(b"\x1b\x1b[m").forward, b"\x1b\x1b[m");
    }
}
