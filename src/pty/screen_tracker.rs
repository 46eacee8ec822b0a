//! A streaming stand-in for the screen model when no idle hint can be drawn (interactive.md §9,
//! §10): it follows just the two facts the final reset needs — whether the child left the
//! alternate screen on, and whether the cursor is in column 1 — at a fraction of the cost of a
//! full `vt100` model.
//!
//! - **Alternate screen:** `CSI ? 1049 h/l`, `CSI ? 1047 h/l` and `CSI ? 47 h/l` (several modes in
//!   one sequence are handled in order); `ESC c` (full reset) leaves it.
//! - **Column 1:** known after CR, NEL (`ESC E`), CNL/CPL (`CSI E`/`CSI F`), a cursor position
//!   (`CSI H`/`CSI f`) or column (`CSI G`/``CSI ` ``) whose column is 1, and a full reset. A
//!   printable byte, a tab, or a forward move (`CSI C`, `CSI a`, `CSI I`, `CSI b`) leaves column 1.
//!   Moves that can only go left or stay (BS, `CSI D`, `CSI Z`, …) keep what is known, and so do
//!   sequences that do not move the cursor sideways (SGR, erase, scroll, vertical moves, LF).
//!   Save and restore (`ESC 7`/`ESC 8`, `CSI s`/`CSI u`, and `?1049`) keep one saved answer per
//!   screen, like xterm's saved cursor. With left/right margins on (`CSI ? 69 h`), "column 1" is
//!   never claimed, because CR and cursor positions are then relative to the margin.
//!
//! Whenever the tracker cannot be sure, it answers "not in column 1": the cost of being wrong
//! that way is one extra blank line, while the other way would glue the step's end line to the
//! child's last output. Like the filters, it gives the same answers however the output is split
//! across reads. Plain text is skipped in runs: only the last byte before the next ESC matters.
//!
//! Hand-written rather than built on `vte` (which `vt100` uses), because `vte` is slower on the
//! relay's hot path: `cargo bench --bench pty` measured this tracker at 2210 MB/s (1440 on a
//! busier machine) and `vte`'s parser alone, with callbacks that only count, at 506 MB/s (330).

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;
const DEL: u8 = 0x7f;
/// Parameters beyond this many in one CSI are not looked at (none of the tracked ones need them).
const MAX_PARAMS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    Escape,
    /// `ESC` + intermediate bytes (`ESC ( B`, `ESC # 8`): up to the final byte, which is ignored.
    EscapeIntermediate,
    Csi,
    /// A CSI this tracker ignores (another private marker, intermediates, sub-parameters, a
    /// malformed one): up to its final byte.
    CsiIgnore,
    /// OSC/DCS/SOS/PM/APC: nothing inside is shown, up to BEL or `ESC \`.
    Str,
    StrEscape,
}

/// The alternate-screen flag and the column-1 guess of the child's terminal. Feed it the child's
/// output exactly as forwarded.
#[derive(Debug, Clone)]
pub struct ScreenTracker {
    state: State,
    alternate: bool,
    line_start: bool,
    /// The answer saved by `ESC 7` and its kin, per screen (main, alternate).
    saved: [bool; 2],
    /// Left/right margin mode (DECLRMM) is on.
    margins: bool,
    /// The CSI being read: `?` marker, finished parameters, the one being read.
    private: bool,
    params: [u16; MAX_PARAMS],
    len: usize,
    current: Option<u16>,
}

impl Default for ScreenTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl ScreenTracker {
    /// A tracker for a terminal on the main screen with the cursor in column 1.
    pub fn new() -> Self {
        Self {
            state: State::Ground,
            alternate: false,
            line_start: true,
            saved: [true; 2],
            margins: false,
            private: false,
            params: [0; MAX_PARAMS],
            len: 0,
            current: None,
        }
    }

    /// Whether the child left the alternate screen on.
    pub fn alternate_screen(&self) -> bool {
        self.alternate
    }

    /// Whether the cursor is surely in column 1.
    pub fn at_line_start(&self) -> bool {
        self.line_start && !self.margins
    }

    /// Follows one chunk of output.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.state == State::Ground {
                let run = memchr::memchr(ESC, rest).unwrap_or(rest.len());
                self.text_run(&rest[..run]);
                match rest.get(run..) {
                    Some([_, tail @ ..]) => {
                        self.state = State::Escape;
                        rest = tail;
                    }
                    _ => return,
                }
                continue;
            }
            if let Some((&byte, tail)) = rest.split_first() {
                self.step(byte);
                rest = tail;
            }
        }
    }

    /// Ground-state text without ESC: only its last byte that moves the cursor sideways counts.
    fn text_run(&mut self, run: &[u8]) {
        let last = run
            .iter()
            .rev()
            .find(|&&b| b == b'\r' || b == b'\t' || (b >= 0x20 && b != DEL));
        if let Some(&byte) = last {
            self.line_start = byte == b'\r';
        }
    }

    /// A C0 control, executed in ground, escape and CSI states alike.
    fn control(&mut self, byte: u8) {
        match byte {
            b'\r' => self.line_start = true,
            b'\t' => self.line_start = false,
            _ => {}
        }
    }

    fn step(&mut self, byte: u8) {
        match self.state {
            State::Ground => match byte {
                ESC => self.state = State::Escape,
                _ => self.text_run(&[byte]),
            },
            State::Escape => self.escape(byte),
            State::EscapeIntermediate => match byte {
                ESC => self.state = State::Escape,
                CAN | SUB => self.state = State::Ground,
                0x20..=0x2f | DEL => {}
                0x00..=0x1f => self.control(byte),
                _ => self.state = State::Ground,
            },
            State::Csi => self.csi(byte),
            State::CsiIgnore => match byte {
                ESC => self.state = State::Escape,
                CAN | SUB => self.state = State::Ground,
                0x40..=0x7e => self.state = State::Ground,
                0x00..=0x1f => self.control(byte),
                _ => {}
            },
            State::Str => match byte {
                BEL | CAN | SUB => self.state = State::Ground,
                ESC => self.state = State::StrEscape,
                _ => {}
            },
            // `ESC \` ends the string; any other ESC ends it too and starts a new escape.
            State::StrEscape if byte == b'\\' => self.state = State::Ground,
            State::StrEscape => self.escape(byte),
        }
    }

    fn escape(&mut self, byte: u8) {
        self.state = State::Ground;
        match byte {
            b'[' => {
                self.private = false;
                self.len = 0;
                self.current = None;
                self.state = State::Csi;
            }
            b']' | b'P' | b'X' | b'^' | b'_' => self.state = State::Str,
            0x20..=0x2f => self.state = State::EscapeIntermediate,
            ESC => self.state = State::Escape,
            CAN | SUB => {}
            DEL => self.state = State::Escape,
            0x00..=0x1f => {
                self.control(byte);
                self.state = State::Escape;
            }
            b'7' => self.saved[self.screen()] = self.line_start,
            b'8' => self.line_start = self.saved[self.screen()],
            b'E' => self.line_start = true,
            b'c' => *self = Self::new(),
            _ => {}
        }
    }

    fn csi(&mut self, byte: u8) {
        match byte {
            b'0'..=b'9' => {
                let digit = u16::from(byte - b'0');
                let value = self.current.unwrap_or(0);
                self.current = Some(value.saturating_mul(10).saturating_add(digit));
            }
            b';' => self.end_param(),
            b'?' if self.len == 0 && self.current.is_none() && !self.private => {
                self.private = true;
            }
            // Other markers (`<`, `=`, `>`), a misplaced `?`, sub-parameters, intermediates.
            b':' | b'<'..=b'?' | 0x20..=0x2f => self.state = State::CsiIgnore,
            0x40..=0x7e => {
                self.end_param();
                self.state = State::Ground;
                self.dispatch(byte);
            }
            ESC => self.state = State::Escape,
            CAN | SUB => self.state = State::Ground,
            0x00..=0x1f => self.control(byte),
            _ => {}
        }
    }

    fn end_param(&mut self) {
        if self.len < MAX_PARAMS {
            self.params[self.len] = self.current.unwrap_or(0);
            self.len += 1;
        }
        self.current = None;
    }

    /// The `n`th parameter (0-based); missing or 0 means the default, 1.
    fn param(&self, n: usize) -> u16 {
        match self.params[..self.len].get(n) {
            Some(&value) if value > 0 => value,
            _ => 1,
        }
    }

    /// Whether the CSI had no parameters at all (`CSI s`, not `CSI 1 s`).
    fn bare(&self) -> bool {
        self.len <= 1 && self.params[0] == 0
    }

    fn dispatch(&mut self, final_byte: u8) {
        if self.private {
            if let Some(on) = match final_byte {
                b'h' => Some(true),
                b'l' => Some(false),
                _ => None,
            } {
                for i in 0..self.len {
                    self.private_mode(self.params[i], on);
                }
            }
            return;
        }
        match final_byte {
            b'C' | b'a' | b'I' | b'b' => self.line_start = false,
            b'E' | b'F' => self.line_start = true,
            b'G' | b'`' => self.line_start = self.param(0) == 1,
            b'H' | b'f' => self.line_start = self.param(1) == 1,
            b's' if self.bare() => self.saved[self.screen()] = self.line_start,
            b'u' if self.bare() => self.line_start = self.saved[self.screen()],
            _ => {}
        }
    }

    fn private_mode(&mut self, mode: u16, on: bool) {
        match (mode, on) {
            (1049, true) => {
                self.saved[self.screen()] = self.line_start;
                self.alternate = true;
            }
            (1049, false) => {
                self.alternate = false;
                self.line_start = self.saved[self.screen()];
            }
            (47 | 1047, _) => self.alternate = on,
            (69, _) => self.margins = on,
            _ => {}
        }
    }

    fn screen(&self) -> usize {
        usize::from(self.alternate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::splits::for_each_split;
    use std::num::NonZeroU16;

    /// (alternate screen, at line start) after `stream`, checked against every split.
    fn after(stream: &[u8]) -> (bool, bool) {
        let mut whole = ScreenTracker::new();
        whole.feed(stream);
        let expected = (whole.alternate_screen(), whole.at_line_start());
        for_each_split(stream, |chunks| {
            let mut tracker = ScreenTracker::new();
            for chunk in chunks {
                tracker.feed(chunk);
            }
            let got = (tracker.alternate_screen(), tracker.at_line_start());
            assert_eq!(got, expected, "split {chunks:?}");
        });
        expected
    }

    #[test]
    fn plain_text_cr_and_lf() {
        assert_eq!(after(b""), (false, true));
        assert_eq!(after(b"prompt> "), (false, false));
        assert_eq!(after(b"line\r\n"), (false, true));
        assert_eq!(after(b"line\n"), (false, false));
        assert_eq!(after(b"progress\r"), (false, true));
        assert_eq!(after(b"a\r\n\t"), (false, false));
        assert_eq!(after(b"a\r\n\x07\x7f\x00"), (false, true));
        assert_eq!(after("caf\u{e9}\r\n\u{2603}".as_bytes()), (false, false));
    }

    #[test]
    fn escape_sequences_do_not_count_as_text() {
        assert_eq!(after(b"ok\r\n\x1b[1;32m\x1b[0m\x1b[K\x1b(B"), (false, true));
        assert_eq!(after(b"ok\r\n\x1b]0;a long title\x07"), (false, true));
        assert_eq!(after(b"ok\r\n\x1b]8;;http://x\x1b\\"), (false, true));
        assert_eq!(after(b"ok\r\n\x1bP+q\rxyz\x1b\\"), (false, true));
        assert_eq!(after(b"ok\x1b]0;t\r\x07"), (false, false));
        assert_eq!(after(b"ok\r\n\x1b[>4;0m\x1b[<u\x1b[2 q"), (false, true));
    }

    #[test]
    fn cursor_moves_and_positions() {
        assert_eq!(after(b"abc\x1b[10;1H"), (false, true));
        assert_eq!(after(b"abc\x1b[10;5H"), (false, false));
        assert_eq!(after(b"abc\x1b[H"), (false, true));
        assert_eq!(after(b"abc\x1b[3f"), (false, true));
        assert_eq!(after(b"abc\x1b[G"), (false, true));
        assert_eq!(after(b"abc\x1b[7G"), (false, false));
        assert_eq!(after(b"\r\n\x1b[2C"), (false, false));
        assert_eq!(after(b"\r\n\x1b[2D\x1b[A\x1b[2J"), (false, true));
        assert_eq!(after(b"abc\x1b[2D"), (false, false));
        assert_eq!(after(b"abc\x1b[E"), (false, true));
        assert_eq!(after(b"abc\x1bE"), (false, true));
        assert_eq!(after(b"abc\x1b[1\r;5H"), (false, false));
        assert_eq!(after(b"abc\x1b[5;1\x1b[m"), (false, false));
        assert_eq!(after(b"abc\x1b[5:1H"), (false, false));
    }

    #[test]
    fn save_and_restore_are_followed() {
        assert_eq!(after(b"\x1b7abc\x1b8"), (false, true));
        assert_eq!(after(b"abc\x1b7\r\n\x1b8"), (false, false));
        assert_eq!(after(b"\x1b[sabc\x1b[u"), (false, true));
        assert_eq!(after(b"abc\x1b7\x1b[r\x1b8"), (false, false));
    }

    #[test]
    fn alternate_screen_modes() {
        assert_eq!(after(b"\x1b[?1049h\x1b[?25lfull screen"), (true, false));
        assert_eq!(after(b"\x1b[?1049hfull\x1b[?1049l"), (false, true));
        assert_eq!(after(b"x\x1b[?1049h\x1b[H\x1b[?1049l"), (false, false));
        assert_eq!(after(b"\x1b[?1047h"), (true, true));
        assert_eq!(after(b"\x1b[?47h\x1b[?47l"), (false, true));
        assert_eq!(after(b"\x1b[?1;1049;2004h"), (true, true));
        assert_eq!(after(b"\x1b[?1049h\x1b[?1049;25lx"), (false, false));
        assert_eq!(after(b"\x1b[1049h"), (false, true));
        assert_eq!(after(b"\x1b[?1049hx\x1bc"), (false, true));
    }

    #[test]
    fn margins_make_column_1_unknowable() {
        assert_eq!(after(b"\x1b[?69h\x1b[5;20s\r"), (false, false));
        assert_eq!(after(b"\x1b[?69h\x1b[?69lab\r"), (false, true));
    }

    /// Where the `vt100` model is sure of the answer, the tracker never claims column 1 when the
    /// model says otherwise, and always agrees about the alternate screen.
    #[test]
    fn never_claims_column_1_when_the_model_disagrees() {
        let streams: &[&[u8]] = &[
            b"   Compiling crate v0.1.0\r\n\x1b[1m\x1b[32mtest\x1b[0m ok\r\nBuilding [==>  ] 83%\r",
            b"warning: x\r\n$ ",
            b"\x1b[?1049h\x1b[2J\x1b[H\x1b[7mstatus\x1b[0m\x1b[24;1Hfooter",
            b"\x1b[?1049h\x1b[2J\x1b[Hmenu\x1b[?1049l",
            b"abc\x1b[5;1Hdef\x1b[G",
            b"abc\x1b7\x1b[10;10Hxyz\x1b8\r\n",
            b"\t\x1b[3D\x1b[2Cx\x08\x08",
            b"\x1b]0;title\x07done\r\n\x1b[?25h",
        ];
        for stream in streams {
            let mut tracker = ScreenTracker::new();
            tracker.feed(stream);
            let mut model = vt100::Parser::new(
                NonZeroU16::new(24).unwrap(),
                NonZeroU16::new(80).unwrap(),
                0,
            );
            model.process(stream);
            let screen = model.screen();
            let name = String::from_utf8_lossy(stream);
            assert_eq!(
                tracker.alternate_screen(),
                screen.alternate_screen(),
                "{name}"
            );
            if tracker.at_line_start() {
                assert_eq!(screen.cursor_position().1, 0, "{name}");
            }
        }
    }
}
