//! The "still working" line (agents.md §6): `  working… 1m12s` on the last line of the terminal
//! after 2 s without output from a running shell or headless agent step. Only on a terminal,
//! never with `--quiet` and never during interactive steps (the relay owns the terminal then).
//! Every console write clears it first, so it never mixes into real output.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::format;

/// Idle time before the line appears.
const IDLE: Duration = Duration::from_secs(2);

struct State {
    enabled: bool,
    /// When the current step started; `None` when no step that may show it is running.
    active: Option<Instant>,
    last_output: Instant,
    drawn: bool,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> Option<T> {
    let mut guard = STATE.lock().ok()?;
    guard.as_mut().map(f)
}

/// Turns the spinner on for this process (stderr is a terminal and output is not quiet).
pub fn enable() {
    if let Ok(mut guard) = STATE.lock() {
        *guard = Some(State {
            enabled: true,
            active: None,
            last_output: Instant::now(),
            drawn: false,
        });
    }
}

/// A step that may show the spinner started.
pub fn step_started() {
    with_state(|s| {
        let now = Instant::now();
        s.active = Some(now);
        s.last_output = now;
    });
}

/// That step ended: the line goes away.
pub fn step_ended() {
    clear();
    with_state(|s| s.active = None);
}

/// Erases the line if it is shown and notes that output happened now. Called before every write.
pub fn clear() {
    with_state(|s| {
        s.last_output = Instant::now();
        if s.drawn {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[2K").and_then(|()| err.flush());
            s.drawn = false;
        }
    });
}

/// Draws or refreshes the line when the running step has been quiet long enough.
pub fn tick() {
    with_state(|s| {
        let Some(started) = s.active else { return };
        if !s.enabled || s.last_output.elapsed() < IDLE {
            return;
        }
        let text = format!(
            "\r\x1b[2K  working… {}",
            format::duration_coarse(started.elapsed())
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
        s.drawn = true;
    });
}
