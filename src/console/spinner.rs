//! The "still working" line (agents.md §6): `  working… 1m12s` on the last line of the terminal
//! after 2 s without output from a running shell or headless agent step. Only on a terminal,
//! never with `--quiet` and never during interactive steps (the relay owns the terminal then).
//! Every console write clears it first, so it never mixes into real output.
//!
//! While parallel branches run (control.md §8) the same line is the status line instead,
//! `  3 running, 5 done, 2 waiting`, redrawn on every tick; only when stdout is a terminal too
//! (the branches' output goes there). [`Branches`] keeps its counts.

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
    /// Stdout is a terminal too: the parallel status line may be shown.
    status: bool,
    /// The branches of the parallel steps running now.
    counts: Counts,
}

/// Branches of the running parallel steps, by how they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    /// Parallel steps running (they may nest).
    steps: u64,
    running: u64,
    done: u64,
    waiting: u64,
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
            status: std::io::IsTerminal::is_terminal(&std::io::stdout()),
            counts: Counts::default(),
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

/// Draws or refreshes the line: the parallel status while branches run, else the working line
/// when the running step has been quiet long enough.
pub fn tick() {
    with_state(|s| {
        let text = if s.status && s.counts.steps > 0 {
            let c = s.counts;
            format!(
                "\r\x1b[2K  {} running, {} done, {} waiting",
                c.running, c.done, c.waiting
            )
        } else {
            let Some(started) = s.active else { return };
            if s.last_output.elapsed() < IDLE {
                return;
            }
            format!(
                "\r\x1b[2K  working… {}",
                format::duration_coarse(started.elapsed())
            )
        };
        if !s.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
        s.drawn = true;
    });
}

/// The branches of one parallel step, counted on the status line from [`Branches::plan`] until
/// it is dropped (branches never started stop waiting then).
pub struct Branches {
    planned: u64,
    started: u64,
    ended: u64,
}

impl Branches {
    /// A parallel step with `planned` branches to run, all waiting.
    pub fn plan(planned: u64) -> Branches {
        with_state(|s| {
            s.counts.steps += 1;
            s.counts.waiting += planned;
        });
        Branches {
            planned,
            started: 0,
            ended: 0,
        }
    }

    pub fn started(&mut self) {
        self.started += 1;
        with_state(|s| {
            s.counts.waiting = s.counts.waiting.saturating_sub(1);
            s.counts.running += 1;
        });
    }

    pub fn ended(&mut self) {
        self.ended += 1;
        with_state(|s| {
            s.counts.running = s.counts.running.saturating_sub(1);
            s.counts.done += 1;
        });
    }
}

impl Drop for Branches {
    fn drop(&mut self) {
        let (waiting, running) = (
            self.planned.saturating_sub(self.started),
            self.started.saturating_sub(self.ended),
        );
        with_state(|s| {
            let c = &mut s.counts;
            c.waiting = c.waiting.saturating_sub(waiting);
            c.running = c.running.saturating_sub(running);
            c.steps = c.steps.saturating_sub(1);
            if c.steps == 0 {
                *c = Counts::default();
            }
        });
    }
}
