//! The idle hint (interactive.md §6): after a quiet spell, a one-line reminder on the bottom row of
//! how to end the step, removed again before anything else is drawn.
//!
//! The hint is drawn over the agent's screen, so the relay keeps a `vt100` model of what the agent
//! drew and, on the next output or keystroke, repaints the covered row from it with its original
//! attributes. Cursor position and attributes are saved and restored around both (`ESC 7`/`ESC 8`).
//! The hint is cut to the terminal's width so it can never wrap and scroll the screen.

use std::time::Duration;

/// The hint's text, drawn in reverse video.
pub const HINT_TEXT: &str =
    " agent-runner: /continue + Enter or Ctrl-] ends this step · /abort stops the run ";
/// The hint is not drawn on terminals smaller than this.
const MIN_ROWS: u16 = 10;
const MIN_COLS: u16 = 40;

/// When to draw the hint, and whether it is on screen.
#[derive(Debug, Clone)]
pub struct IdleHint {
    after: Duration,
    /// The hint is on screen, covering the bottom row.
    shown: bool,
    /// The hint was drawn in the current idle period (at most once per period).
    drawn_this_period: bool,
}

impl IdleHint {
    /// A hint drawn after `after` without child output or user input.
    pub fn new(after: Duration) -> Self {
        Self {
            after,
            shown: false,
            drawn_this_period: false,
        }
    }

    /// Whether to draw the hint now, after `idle` on a `rows`×`cols` terminal.
    pub fn is_due(&self, idle: Duration, rows: u16, cols: u16) -> bool {
        !self.drawn_this_period && idle >= self.after && rows >= MIN_ROWS && cols >= MIN_COLS
    }

    /// The hint was drawn.
    pub fn drawn(&mut self) {
        self.shown = true;
        self.drawn_this_period = true;
    }

    /// Activity ends the idle period. Returns whether the covered row must be repainted.
    pub fn activity(&mut self) -> bool {
        self.drawn_this_period = false;
        std::mem::take(&mut self.shown)
    }
}

/// The bytes that draw the hint on the bottom row of a `rows`×`cols` terminal.
pub fn hint_bytes(rows: u16, cols: u16) -> Vec<u8> {
    let text: String = HINT_TEXT
        .chars()
        .take(usize::from(cols.saturating_sub(1)))
        .collect();
    format!("\x1b7\x1b[{rows};1H\x1b[0;7m{text}\x1b[0m\x1b[K\x1b8").into_bytes()
}

/// The bytes that repaint the bottom row from the screen model.
pub fn repaint_bytes(screen: &vt100::Screen) -> Vec<u8> {
    let (rows, cols) = screen.size();
    let row = screen
        .rows_formatted(0, cols.get())
        .nth(usize::from(rows.get() - 1))
        .unwrap_or_default();
    format!("\x1b7\x1b[{};1H\x1b[0m\x1b[2K{row}\x1b8", rows.get()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU16;

    #[test]
    fn drawn_at_most_once_per_idle_period() {
        let mut hint = IdleHint::new(Duration::from_secs(3));
        assert!(!hint.is_due(Duration::from_secs(2), 40, 120));
        assert!(hint.is_due(Duration::from_secs(3), 40, 120));
        hint.drawn();
        assert!(!hint.is_due(Duration::from_secs(9), 40, 120));
        assert!(hint.activity());
        assert!(!hint.activity());
        assert!(hint.is_due(Duration::from_secs(3), 40, 120));
    }

    #[test]
    fn not_drawn_on_small_terminals() {
        let hint = IdleHint::new(Duration::ZERO);
        assert!(!hint.is_due(Duration::from_secs(5), 9, 120));
        assert!(!hint.is_due(Duration::from_secs(5), 40, 39));
        assert!(hint.is_due(Duration::from_secs(5), 10, 40));
    }

    #[test]
    fn hint_fits_the_width_and_restores_the_cursor() {
        let bytes = String::from_utf8(hint_bytes(24, 40)).unwrap();
        assert!(bytes.starts_with("\x1b7\x1b[24;1H\x1b[0;7m agent-runner: /continue"));
        assert!(bytes.ends_with("\x1b[0m\x1b[K\x1b8"));
        let text = bytes.split("\x1b[0;7m").nth(1).unwrap();
        assert_eq!(text.split("\x1b[0m").next().unwrap().chars().count(), 39);
    }

    #[test]
    fn repaint_restores_the_bottom_row_with_its_attributes() {
        let rows = NonZeroU16::new(10).unwrap();
        let cols = NonZeroU16::new(40).unwrap();
        let mut model = vt100::Parser::new(rows, cols, 0);
        model.process(b"\x1b[10;1H\x1b[1;31mbottom\x1b[0m line\x1b[1;1H");
        let repaint = repaint_bytes(model.screen());
        let mut check = vt100::Parser::new(rows, cols, 0);
        check.process(b"\x1b[10;1Hgarbage everywhere");
        check.process(&hint_bytes(10, 40));
        check.process(&repaint);
        assert_eq!(
            check.screen().rows_formatted(0, 40).nth(9),
            model.screen().rows_formatted(0, 40).nth(9)
        );
        let cell = check.screen().cell(9, 0).unwrap();
        assert!(cell.bold());
    }
}
