//! An approximation of the agent's current input line, built from the user's keystrokes
//! (interactive.md §3).
//!
//! The relay cannot see the agent's input box, only the bytes the user types. The tracker replays
//! the simple editing keys (printable text, Backspace/DEL, Ctrl-U, Ctrl-W, Enter) and gives up —
//! marks the line *unknown* until the next Enter — as soon as a key could have moved the cursor or
//! changed the line in a way it cannot follow. Giving up is always safe: an unknown line never
//! matches `/continue`, so the worst case is that the user's text reaches the agent.

/// Lines longer than this are not worth following: they cannot be a command.
const MAX_TRACKED_BYTES: usize = 4096;

/// A command the user typed on a line of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCommand {
    /// `/continue`: the step is done.
    Continue,
    /// `/abort`: stop the run.
    Abort,
}

/// The tracked input line: its bytes, or *unknown*.
#[derive(Debug, Clone, Default)]
pub struct LineTracker {
    line: Vec<u8>,
    unknown: bool,
}

impl LineTracker {
    /// A tracker at the start of an empty line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one byte of typed text (UTF-8 continuation bytes included).
    pub fn push(&mut self, byte: u8) {
        if self.unknown {
            return;
        }
        if self.line.len() >= MAX_TRACKED_BYTES {
            self.mark_unknown();
            return;
        }
        self.line.push(byte);
    }

    /// Backspace or DEL: removes the last character (all bytes of a UTF-8 character).
    pub fn backspace(&mut self) {
        if self.unknown {
            return;
        }
        while let Some(byte) = self.line.pop() {
            if !is_utf8_continuation(byte) {
                break;
            }
        }
    }

    /// Ctrl-U: clears the line. On an unknown line the cursor may sit mid-line, where Ctrl-U only
    /// removes the text before it, so the line stays unknown.
    pub fn clear(&mut self) {
        if !self.unknown {
            self.line.clear();
        }
    }

    /// Ctrl-W: removes the trailing spaces and then the last word, like readline's
    /// `unix-word-rubout`.
    pub fn delete_word(&mut self) {
        if self.unknown {
            return;
        }
        while self.line.last().is_some_and(|b| b.is_ascii_whitespace()) {
            self.line.pop();
        }
        while self.line.last().is_some_and(|b| !b.is_ascii_whitespace()) {
            self.line.pop();
        }
    }

    /// CR or LF: a new, empty, known line starts.
    pub fn new_line(&mut self) {
        self.line.clear();
        self.unknown = false;
    }

    /// A key the tracker cannot follow: the line is unknown until the next CR or LF.
    pub fn mark_unknown(&mut self) {
        self.unknown = true;
        self.line.clear();
    }

    /// Whether the line is currently unknown.
    pub fn is_unknown(&self) -> bool {
        self.unknown
    }

    /// The command on the line, if the line is known and is exactly `/continue` or `/abort`
    /// followed by nothing but spaces.
    pub fn command(&self) -> Option<LineCommand> {
        if self.unknown {
            return None;
        }
        let mut end = self.line.len();
        while end > 0 && self.line[end - 1] == b' ' {
            end -= 1;
        }
        match &self.line[..end] {
            b"/continue" => Some(LineCommand::Continue),
            b"/abort" => Some(LineCommand::Abort),
            _ => None,
        }
    }

    /// How many characters the line holds: the number of DELs that erase it.
    pub fn char_count(&self) -> usize {
        self.line
            .iter()
            .filter(|&&b| !is_utf8_continuation(b))
            .count()
    }
}

fn is_utf8_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> LineTracker {
        let mut tracker = LineTracker::new();
        for &b in text.as_bytes() {
            tracker.push(b);
        }
        tracker
    }

    #[test]
    fn recognises_commands_with_trailing_spaces() {
        assert_eq!(typed("/continue").command(), Some(LineCommand::Continue));
        assert_eq!(typed("/continue  ").command(), Some(LineCommand::Continue));
        assert_eq!(typed("/abort").command(), Some(LineCommand::Abort));
        assert_eq!(typed(" /continue").command(), None);
        assert_eq!(typed("/continued").command(), None);
        assert_eq!(typed("/continue  ").char_count(), 11);
    }

    #[test]
    fn backspace_removes_a_whole_utf8_character() {
        let mut tracker = typed("/continueé");
        assert_eq!(tracker.char_count(), 10);
        tracker.backspace();
        assert_eq!(tracker.command(), Some(LineCommand::Continue));
    }

    #[test]
    fn ctrl_w_removes_the_last_word_and_ctrl_u_the_line() {
        let mut tracker = typed("please /continue  ");
        tracker.delete_word();
        assert_eq!(tracker.char_count(), "please ".len());
        tracker.clear();
        assert_eq!(tracker.char_count(), 0);
        for &b in b"/abort" {
            tracker.push(b);
        }
        assert_eq!(tracker.command(), Some(LineCommand::Abort));
    }

    #[test]
    fn unknown_line_never_matches_until_a_new_line() {
        let mut tracker = LineTracker::new();
        tracker.mark_unknown();
        for &b in b"/continue" {
            tracker.push(b);
        }
        tracker.clear();
        assert!(tracker.is_unknown());
        assert_eq!(tracker.command(), None);
        tracker.new_line();
        for &b in b"/continue" {
            tracker.push(b);
        }
        assert_eq!(tracker.command(), Some(LineCommand::Continue));
    }

    #[test]
    fn a_very_long_line_becomes_unknown() {
        let tracker = typed(&"x".repeat(MAX_TRACKED_BYTES + 1));
        assert!(tracker.is_unknown());
    }
}
