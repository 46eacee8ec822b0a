//! The reset sequence written after the child ends (interactive.md §9): whatever modes the agent
//! left on, the user's terminal goes back to a sane state before the step's end line appears.
//!
//! `ESC[r` (reset the scroll region) also homes the cursor on xterm-like terminals, so it is
//! wrapped in save/restore cursor; the end line then appears where the agent's output stopped.

/// Leave the alternate screen; only sent when the screen model says the child left it on.
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";

/// The modes that are always reset, in order: show the cursor, reset the scroll region, turn off
/// bracketed paste, focus reporting and the mouse modes, pop the kitty keyboard mode, turn off
/// modifyOtherKeys, reset attributes.
const RESET_MODES: &[&[u8]] = &[
    b"\x1b[?25h",
    b"\x1b7\x1b[r\x1b8",
    b"\x1b[?2004l",
    b"\x1b[?1004l",
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l",
    b"\x1b[<u",
    b"\x1b[>4;0m",
    b"\x1b[0m",
];

/// Ends the last line when the cursor is not in column 1. OPOST is still off, hence CR LF.
pub const NEWLINE: &[u8] = b"\r\n";

/// The reset sequence, without the final newline (which depends on where the cursor ends up).
pub fn reset_sequence(alternate_screen_on: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if alternate_screen_on {
        bytes.extend_from_slice(LEAVE_ALTERNATE_SCREEN);
    }
    for mode in RESET_MODES {
        bytes.extend_from_slice(mode);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_screen_is_left_only_when_on() {
        let on = reset_sequence(true);
        let off = reset_sequence(false);
        assert!(on.starts_with(LEAVE_ALTERNATE_SCREEN));
        assert_eq!(&on[LEAVE_ALTERNATE_SCREEN.len()..], off.as_slice());
        let text = String::from_utf8(off).unwrap();
        for mode in ["?25h", "[r", "?2004l", "?1004l", "?1006l", "[<u", "[>4;0m"] {
            assert!(text.contains(mode), "{mode}");
        }
        assert!(text.ends_with("\x1b[0m"));
    }
}
