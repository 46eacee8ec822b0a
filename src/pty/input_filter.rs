//! The input filter: the user's keystrokes on their way to the agent (interactive.md §3).
//!
//! A byte-at-a-time state machine that forwards everything unchanged except the step-ending
//! triggers: `/continue` or `/abort` followed by Enter on a tracked line, and Ctrl-] in its three
//! encodings (0x1d, kitty `ESC[93;5u`, modifyOtherKeys `ESC[27;5;93~`).
//!
//! Every decision depends only on the bytes, never on how `read` cut them: the state carries over
//! between chunks. An escape sequence that is still a prefix of a Ctrl-] encoding is *held* (not
//! forwarded yet) until it either completes — and is swallowed as the trigger — or diverges, and is
//! then forwarded whole. A lone ESC (the Escape key) would wait forever for its next byte, so the
//! input pump calls [`InputFilter::flush`] when no further byte arrives shortly after it.
//!
//! The bytes inside CSI/SS3 sequences, OSC/DCS/APC/PM/SOS strings and bracketed pastes are never
//! triggers. Cursor-moving keys make the [`LineTracker`] give up on the line until the next Enter.
//!
//! Why not `vte`'s parser: it reports sequences, not the bytes to forward or hold; it reads the
//! three raw bytes of an X10 mouse report (`ESC [ M` + 3) as text; and it does not know bracketed
//! paste, so a pasted `ESC ]` without its end would leave it inside an OSC that swallows the
//! paste's end marker. (This path carries keystrokes, not bulk output; speed is not the reason.)

use super::line_tracker::{LineCommand, LineTracker};

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const DEL: u8 = 0x7f;
const CTRL_BRACKET: u8 = 0x1d;
const CTRL_U: u8 = 0x15;
const CTRL_W: u8 = 0x17;
const BACKSPACE: u8 = 0x08;
const CTRL_BRACKET_SEQUENCES: [&[u8]; 2] = [b"\x1b[93;5u", b"\x1b[27;5;93~"];
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";
/// Only the start of a CSI sequence is needed to classify it (and to match the triggers).
const SEQ_RECORDED: usize = 16;
/// CSI final bytes of keys that move the cursor or recall history: arrows, Home/End, mouse
/// reports, back-tab, editing keys (`~`) and kitty-encoded keys (`u`).
const CURSOR_FINALS: &[u8] = b"ABCDEFGHMZu~";

/// A step-ending trigger typed by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserTrigger {
    /// `/continue` + Enter.
    Continue,
    /// `/abort` + Enter.
    Abort,
    /// Ctrl-], in any of its encodings.
    CtrlBracket,
}

/// What one chunk of input turned into.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilteredInput {
    /// Bytes to write to the PTY, in order. After a trigger: the bytes before it, plus the DELs
    /// that erase a typed command.
    pub forward: Vec<u8>,
    /// The trigger found in this chunk, if any. Input after a trigger is dropped.
    pub trigger: Option<UserTrigger>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC; `seq` holds it.
    Escape,
    Csi,
    /// After `ESC O`: one more byte.
    Ss3,
    /// After `ESC [ M`: three raw bytes of an X10 mouse report remain.
    X10Mouse(u8),
    /// Inside OSC/DCS/APC/PM/SOS, until BEL or `ESC \`.
    Str,
    /// ESC inside a string: `\` ends it, anything else starts a new escape sequence.
    StrEscape,
    Paste,
    /// A trigger was found; everything after it is dropped.
    Ended,
}

/// The input state machine. Feed it chunks exactly as read.
#[derive(Debug, Clone)]
pub struct InputFilter {
    state: State,
    /// The first bytes of the escape sequence being read.
    seq: Vec<u8>,
    /// `seq` has not been forwarded yet: it may still become a Ctrl-] trigger.
    held: bool,
    /// How much of `ESC[201~` the paste has matched so far.
    paste_matched: usize,
    tracker: LineTracker,
}

impl Default for InputFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl InputFilter {
    /// A filter at the start of an empty line.
    pub fn new() -> Self {
        Self {
            state: State::Ground,
            seq: Vec::with_capacity(SEQ_RECORDED),
            held: false,
            paste_matched: 0,
            tracker: LineTracker::new(),
        }
    }

    /// Processes one chunk of user input.
    pub fn feed(&mut self, chunk: &[u8]) -> FilteredInput {
        let mut out = FilteredInput::default();
        for &byte in chunk {
            if self.state == State::Ended {
                break;
            }
            if let Some(trigger) = self.step(byte, &mut out.forward) {
                out.trigger = Some(trigger);
                self.state = State::Ended;
                self.seq.clear();
                self.held = false;
            }
        }
        out
    }

    /// Whether bytes are held back waiting for the rest of a possible trigger.
    pub fn is_holding(&self) -> bool {
        self.held
    }

    /// No more input came for a while: forwards held bytes. A lone ESC is taken to be the Escape
    /// key, so the next byte starts afresh.
    pub fn flush(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.release(&mut out);
        if matches!(self.state, State::Escape | State::StrEscape) {
            self.tracker.mark_unknown();
            self.state = State::Ground;
        }
        out
    }

    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> Option<UserTrigger> {
        match self.state {
            State::Ground => self.ground(byte, out),
            State::Escape => self.escape(byte, out),
            State::Csi => self.csi(byte, out),
            State::Ss3 => {
                self.state = State::Ground;
                if (0x20..0x7f).contains(&byte) {
                    out.push(byte);
                    None
                } else {
                    self.step(byte, out)
                }
            }
            State::X10Mouse(remaining) => {
                out.push(byte);
                self.state = match remaining {
                    0 | 1 => State::Ground,
                    n => State::X10Mouse(n - 1),
                };
                None
            }
            State::Str => {
                match byte {
                    ESC => self.start_escape(State::StrEscape),
                    BEL => {
                        out.push(byte);
                        self.state = State::Ground;
                    }
                    _ => out.push(byte),
                }
                None
            }
            State::StrEscape => {
                if byte == b'\\' {
                    self.release(out);
                    out.push(byte);
                    self.state = State::Ground;
                    None
                } else {
                    self.state = State::Escape;
                    self.escape(byte, out)
                }
            }
            State::Paste => {
                self.paste(byte, out);
                None
            }
            State::Ended => None,
        }
    }

    fn ground(&mut self, byte: u8, out: &mut Vec<u8>) -> Option<UserTrigger> {
        match byte {
            ESC => self.start_escape(State::Escape),
            CTRL_BRACKET => return Some(UserTrigger::CtrlBracket),
            b'\r' | b'\n' => {
                if let Some(command) = self.tracker.command() {
                    out.extend(std::iter::repeat_n(DEL, self.tracker.char_count()));
                    return Some(match command {
                        LineCommand::Continue => UserTrigger::Continue,
                        LineCommand::Abort => UserTrigger::Abort,
                    });
                }
                self.tracker.new_line();
                out.push(byte);
            }
            BACKSPACE | DEL => {
                self.tracker.backspace();
                out.push(byte);
            }
            CTRL_U => {
                self.tracker.clear();
                out.push(byte);
            }
            CTRL_W => {
                self.tracker.delete_word();
                out.push(byte);
            }
            0x00..=0x1f => {
                // Tab (completion), Ctrl-A/E/B/F/P/N, Ctrl-C and the rest: the tracker cannot
                // know what they do to the line.
                self.tracker.mark_unknown();
                out.push(byte);
            }
            _ => {
                self.tracker.push(byte);
                out.push(byte);
            }
        }
        None
    }

    fn start_escape(&mut self, state: State) {
        self.seq.clear();
        self.seq.push(ESC);
        self.held = true;
        self.state = state;
    }

    fn escape(&mut self, byte: u8, out: &mut Vec<u8>) -> Option<UserTrigger> {
        match byte {
            b'[' => {
                self.seq.push(byte);
                self.state = State::Csi;
                None
            }
            0x00..=0x1f => {
                // A lone ESC (the Escape key) followed by a control byte.
                self.release(out);
                self.tracker.mark_unknown();
                self.state = State::Ground;
                self.step(byte, out)
            }
            _ => {
                self.release(out);
                out.push(byte);
                self.state = match byte {
                    b'O' => State::Ss3,
                    b']' | b'P' | b'_' | b'^' | b'X' => State::Str,
                    // Alt+key: the agent may treat it as a word motion.
                    _ => State::Ground,
                };
                if self.state != State::Str {
                    self.tracker.mark_unknown();
                }
                None
            }
        }
    }

    fn csi(&mut self, byte: u8, out: &mut Vec<u8>) -> Option<UserTrigger> {
        if !(0x20..0x7f).contains(&byte) {
            // A control byte breaks the sequence off.
            self.release(out);
            self.tracker.mark_unknown();
            self.state = State::Ground;
            return self.step(byte, out);
        }
        if self.seq.len() < SEQ_RECORDED {
            self.seq.push(byte);
        }
        let is_final = (0x40..0x7f).contains(&byte);
        if self.held {
            if is_final && CTRL_BRACKET_SEQUENCES.contains(&self.seq.as_slice()) {
                self.held = false;
                self.state = State::Ground;
                return Some(UserTrigger::CtrlBracket);
            }
            if is_final || !is_trigger_prefix(&self.seq) {
                self.release(out);
            }
        } else {
            out.push(byte);
        }
        if is_final {
            self.finish_csi(byte);
        }
        None
    }

    fn finish_csi(&mut self, final_byte: u8) {
        self.state = State::Ground;
        if self.seq == PASTE_START {
            self.state = State::Paste;
            self.paste_matched = 0;
            return;
        }
        let private = self.seq.get(2).copied().filter(|b| b"<=>?".contains(b));
        match private {
            // SGR mouse report.
            Some(b'<') if matches!(final_byte, b'M' | b'm') => self.tracker.mark_unknown(),
            // Replies to the agent's queries (cursor position, device attributes, modes).
            Some(_) => {}
            None if CURSOR_FINALS.contains(&final_byte) => {
                self.tracker.mark_unknown();
                if self.seq == b"\x1b[M" {
                    self.state = State::X10Mouse(3);
                }
            }
            // Focus in/out and other reports leave the line alone.
            None => {}
        }
    }

    fn paste(&mut self, byte: u8, out: &mut Vec<u8>) {
        out.push(byte);
        if byte == PASTE_END[self.paste_matched] {
            self.paste_matched += 1;
            if self.paste_matched == PASTE_END.len() {
                self.paste_matched = 0;
                self.state = State::Ground;
            }
            return;
        }
        let matched = std::mem::take(&mut self.paste_matched);
        for &content in &PASTE_END[..matched] {
            self.pasted(content);
        }
        if byte == ESC {
            self.paste_matched = 1;
        } else {
            self.pasted(byte);
        }
    }

    fn pasted(&mut self, byte: u8) {
        match byte {
            b'\r' | b'\n' => self.tracker.mark_unknown(),
            b'\t' => self.tracker.push(byte),
            0x00..=0x1f | DEL => {}
            _ => self.tracker.push(byte),
        }
    }

    fn release(&mut self, out: &mut Vec<u8>) {
        if self.held {
            out.extend_from_slice(&self.seq);
            self.held = false;
        }
    }
}

fn is_trigger_prefix(seq: &[u8]) -> bool {
    CTRL_BRACKET_SEQUENCES.iter().any(|t| t.starts_with(seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::splits::for_each_split;

    /// Feeds the chunks to a fresh filter; returns everything forwarded and the trigger.
    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Option<UserTrigger>) {
        let mut filter = InputFilter::new();
        let mut forward = Vec::new();
        let mut trigger = None;
        for chunk in chunks {
            let out = filter.feed(chunk);
            forward.extend(out.forward);
            if out.trigger.is_some() {
                trigger = out.trigger;
            }
        }
        (forward, trigger)
    }

    /// Asserts that every split of `stream` gives `expected`.
    fn assert_every_split(stream: &[u8], expected: (&[u8], Option<UserTrigger>)) {
        for_each_split(stream, |chunks| {
            let (forward, trigger) = run(chunks);
            assert_eq!((forward.as_slice(), trigger), expected, "split {chunks:?}");
        });
    }

    fn dels(n: usize) -> Vec<u8> {
        vec![DEL; n]
    }

    #[test]
    fn continue_and_enter_withholds_the_cr_and_erases_the_line() {
        let expected = [b"/continue".as_slice(), &dels(9)].concat();
        assert_every_split(b"/continue\r", (&expected, Some(UserTrigger::Continue)));
        let expected = [b"/continue  ".as_slice(), &dels(11)].concat();
        assert_every_split(b"/continue  \n", (&expected, Some(UserTrigger::Continue)));
    }

    #[test]
    fn continue_on_a_later_line_after_edits_is_detected() {
        let stream = b"hi\r/contx\x7finue\rtail";
        let expected = [b"hi\r/contx\x7finue".as_slice(), &dels(9)].concat();
        assert_every_split(stream, (&expected, Some(UserTrigger::Continue)));
    }

    #[test]
    fn abort_and_enter_is_detected() {
        let expected = [b"x\x15/abort".as_slice(), &dels(6)].concat();
        assert_every_split(b"x\x15/abort\r", (&expected, Some(UserTrigger::Abort)));
    }

    #[test]
    fn continue_after_a_cursor_key_is_not_detected() {
        for stream in [
            b"x\x1b[D/continue\r".as_slice(),
            b"\x1bOA/continue\r",
            b"\x01/continue\r",
            b"\x1b[<0;3;4M/continue\r",
            b"\x1b[M !!/continue\r",
        ] {
            assert_every_split(stream, (stream, None));
        }
    }

    #[test]
    fn replies_and_focus_reports_keep_the_line() {
        let stream = b"/cont\x1b[12;40R\x1b[I\x1b[?62;4cinue\r";
        let expected = [&stream[..stream.len() - 1], &dels(9)].concat();
        assert_every_split(stream, (&expected, Some(UserTrigger::Continue)));
    }

    #[test]
    fn ctrl_bracket_works_in_all_three_encodings() {
        for trigger in [b"\x1d".as_slice(), b"\x1b[93;5u", b"\x1b[27;5;93~"] {
            let stream = [b"ab\x1b[A".as_slice(), trigger, b"after"].concat();
            assert_every_split(&stream, (b"ab\x1b[A", Some(UserTrigger::CtrlBracket)));
        }
    }

    #[test]
    fn near_misses_of_ctrl_bracket_pass_through() {
        for stream in [
            b"\x1b[93;6u".as_slice(),
            b"\x1b[27;5;94~",
            b"\x1b[9",
            b"\x1b[27;5;93",
        ] {
            let mut filter = InputFilter::new();
            let out = filter.feed(stream);
            assert_eq!(out.trigger, None);
            assert_eq!([out.forward, filter.flush()].concat(), stream);
        }
    }

    #[test]
    fn escape_strings_and_pastes_pass_through_byte_exact() {
        let stream = b"\x1b]11;rgb:0/0/0\x07\x1bP\x1d/continue\r\x1b\\\x1b[200~/continue\r\x1d\x1b[20x\x1b[201~\r";
        assert_every_split(stream, (stream, None));
    }

    #[test]
    fn pasted_text_without_a_newline_is_appended() {
        let stream = b"\x1b[200~/conti\x1b[201~nue\r";
        let expected = [&stream[..stream.len() - 1], &dels(9)].concat();
        assert_every_split(stream, (&expected, Some(UserTrigger::Continue)));
    }

    #[test]
    fn a_lone_escape_is_held_until_flushed() {
        let mut filter = InputFilter::new();
        assert!(filter.feed(b"\x1b").forward.is_empty());
        assert!(filter.is_holding());
        assert_eq!(filter.flush(), b"\x1b");
        assert_eq!(filter.feed(b"[A").forward, b"[A");
        let mut filter = InputFilter::new();
        filter.feed(b"\x1b");
        assert_eq!(filter.feed(b"\x1b[A").forward, b"\x1b\x1b[A");
    }

    #[test]
    fn input_after_a_trigger_is_dropped() {
        let mut filter = InputFilter::new();
        let out = filter.feed(b"a\x1db");
        assert_eq!(out.forward, b"a");
        assert_eq!(filter.feed(b"more").forward, b"");
    }
}
