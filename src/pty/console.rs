//! The user's side of the relay: everything written to the user's terminal goes through here.
//!
//! The output pump (child output), the input pump (keystrokes) and the relay loop (idle hint,
//! resize, the final reset) all touch the terminal, the screen model and the transcript, so they
//! share one `Console` behind a mutex. That also orders the writes: the hint's row is repainted
//! before the bytes that follow it.
//!
//! Only the idle hint needs a full `vt100` screen model (to repaint the row it covered). Without
//! a hint — interactive shell steps, and agent steps with `interactive.idle_hint: false` — the
//! console keeps a [`ScreenTracker`] instead, which follows just what the final reset needs.

use std::io::Write;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use super::idle_hint::{IdleHint, hint_bytes, repaint_bytes};
use super::screen_tracker::ScreenTracker;
use super::terminal_reset::{NEWLINE, reset_sequence};
use super::transcript::Transcript;

/// The user's terminal as the relay sees it.
pub struct Console {
    out: Box<dyn Write + Send>,
    screen: Screen,
    transcript: Transcript,
    hint: Option<IdleHint>,
    last_output: Instant,
    last_activity: Instant,
}

impl Console {
    /// A console writing to `out`, `rows`×`cols` large, drawing the hint when `hint` is given.
    pub fn new(out: Box<dyn Write + Send>, rows: u16, cols: u16, hint: Option<IdleHint>) -> Self {
        let now = Instant::now();
        Self {
            out,
            screen: match hint {
                Some(_) => Screen::Model(Box::new(vt100::Parser::new(
                    non_zero(rows),
                    non_zero(cols),
                    0,
                ))),
                None => Screen::Tracker(ScreenTracker::new()),
            },
            transcript: Transcript::new(),
            hint,
            last_output: now,
            last_activity: now,
        }
    }

    /// Child output, already filtered: to the terminal, the screen model and the transcript.
    /// An empty chunk (a read that held only a sentinel) still counts as output.
    pub fn child_output(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        self.last_output = now;
        if bytes.is_empty() {
            return;
        }
        self.activity(now);
        self.write(bytes);
        self.screen.process(bytes);
        self.transcript.push(bytes);
    }

    /// The user typed something.
    pub fn user_input(&mut self) {
        self.activity(Instant::now());
    }

    /// How long the child has been silent.
    pub fn quiet_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_output)
    }

    /// Draws the idle hint if it is due.
    pub fn tick(&mut self, now: Instant) {
        let idle = now.saturating_duration_since(self.last_activity);
        let (Some(hint), Screen::Model(model)) = (self.hint.as_mut(), &self.screen) else {
            return;
        };
        let (rows, cols) = model.screen().size();
        let (rows, cols) = (rows.get(), cols.get());
        if hint.is_due(idle, rows, cols) {
            hint.drawn();
            self.write(&hint_bytes(rows, cols));
        }
    }

    /// The terminal was resized.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        if let Screen::Model(model) = &mut self.screen {
            model.set_size(non_zero(rows), non_zero(cols));
        }
    }

    /// The child has ended: removes the hint, writes the reset sequence and, when the cursor is
    /// not in column 1, a newline.
    pub fn finish(&mut self) {
        self.activity(Instant::now());
        let reset = reset_sequence(self.screen.alternate_screen());
        self.screen.process(&reset);
        self.write(&reset);
        if !self.screen.at_line_start() {
            self.write(NEWLINE);
        }
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    fn activity(&mut self, now: Instant) {
        self.last_activity = now;
        if self.hint.as_mut().is_some_and(IdleHint::activity)
            && let Screen::Model(model) = &self.screen
        {
            let repaint = repaint_bytes(model.screen());
            self.write(&repaint);
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        // A terminal that went away cannot be helped; the relay ends when the child does.
        let _ = self.out.write_all(bytes).and_then(|()| self.out.flush());
    }
}

/// What the console knows of the child's screen: everything, or just what the reset needs.
enum Screen {
    Model(Box<vt100::Parser>),
    Tracker(ScreenTracker),
}

impl Screen {
    fn process(&mut self, bytes: &[u8]) {
        match self {
            Self::Model(model) => model.process(bytes),
            Self::Tracker(tracker) => tracker.feed(bytes),
        }
    }

    fn alternate_screen(&self) -> bool {
        match self {
            Self::Model(model) => model.screen().alternate_screen(),
            Self::Tracker(tracker) => tracker.alternate_screen(),
        }
    }

    fn at_line_start(&self) -> bool {
        match self {
            Self::Model(model) => model.screen().cursor_position().1 == 0,
            Self::Tracker(tracker) => tracker.at_line_start(),
        }
    }
}

fn non_zero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    #[test]
    fn hint_is_drawn_when_idle_and_repainted_before_the_next_output() {
        let out = Shared::default();
        let hint = IdleHint::new(Duration::ZERO);
        let mut console = Console::new(Box::new(out.clone()), 24, 80, Some(hint));
        console.child_output(b"hello");
        assert_eq!(out.take(), "hello");
        console.tick(Instant::now());
        assert!(out.take().contains("agent-runner: /continue"));
        console.tick(Instant::now());
        assert_eq!(out.take(), "");
        console.child_output(b"!");
        let written = out.take();
        assert!(written.starts_with("\x1b7\x1b[24;1H"));
        assert!(written.ends_with("\x1b8!"));
        assert_eq!(console.transcript().render(), "hello!");
    }

    #[test]
    fn finish_leaves_the_alternate_screen_and_ends_the_line() {
        let out = Shared::default();
        let mut console = Console::new(Box::new(out.clone()), 24, 80, None);
        console.child_output(b"\x1b[?1049h\x1b[?25lfull screen");
        out.take();
        console.finish();
        let written = out.take();
        assert!(written.starts_with("\x1b[?1049l"));
        assert!(
            !written.ends_with("\r\n"),
            "column 1 after leaving: {written:?}"
        );
        let mut console = Console::new(Box::new(out.clone()), 24, 80, None);
        console.child_output(b"prompt> ");
        out.take();
        console.finish();
        let written = out.take();
        assert!(!written.contains("1049"));
        assert!(written.ends_with("\x1b[0m\r\n"));
    }
}
