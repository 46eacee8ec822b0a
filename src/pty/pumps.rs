//! The two copy loops of the relay, each on its own thread because the reads block
//! (interactive.md §1.6).
//!
//! - The input pump: user's terminal → input filter → PTY master. It stops at a trigger (input
//!   after it stays in the terminal for whatever comes next) or when told to.
//! - The output pump: PTY master → output filter → console (terminal, screen model, transcript).
//!   It stops at end-of-file (every copy of the slave closed) or, once told to drain, after
//!   [`DRAIN`] more.
//!
//! Both wait with `poll` and a short timeout rather than blocking in `read`, so they notice the
//! stop flags, and so the filters' held bytes (a lone ESC) are flushed when the stream pauses.
//! Without triggers (interactive shell steps) there are no filters: bytes are copied as they are.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::console::Console;
use super::input_filter::{InputFilter, UserTrigger};
use super::output_filter::{FilteredOutput, OutputEvent, OutputFilter};

/// How long output is still copied after the child was stopped.
pub const DRAIN: Duration = Duration::from_millis(200);
/// Poll timeouts: idle, and while bytes are held or the output drains.
const IDLE_POLL_MS: u16 = 100;
const SHORT_POLL_MS: u16 = 20;
/// The input pump's buffer: keystrokes and pastes.
const INPUT_BUFFER: usize = 8192;
/// The output pump's buffer: one `read` per wake-up takes all the kernel hands over (at most its
/// 4 KiB line buffer on Linux). Gathering several reads into one write was measured slower: the
/// terminal side then idles while the pump gathers.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// What the pumps tell the relay loop.
#[derive(Debug)]
pub enum PumpEvent {
    User(UserTrigger),
    Output(OutputEvent),
    /// The PTY reached end-of-file: the child and everything sharing its terminal are gone.
    OutputClosed,
}

/// Starts the input pump reading `stdin` and writing to `master`.
pub fn spawn_input(
    stdin: OwnedFd,
    mut master: File,
    mut filter: Option<InputFilter>,
    console: Arc<Mutex<Console>>,
    events: Sender<PumpEvent>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("relay-input".into())
        .spawn(move || {
            let mut buf = [0u8; INPUT_BUFFER];
            while !stop.load(Ordering::Relaxed) {
                let holding = filter.as_ref().is_some_and(InputFilter::is_holding);
                let timeout = if holding { SHORT_POLL_MS } else { IDLE_POLL_MS };
                let bytes = match read_some(stdin.as_fd(), timeout, &mut buf) {
                    Read::Data(n) => &buf[..n],
                    Read::Nothing => {
                        if let Some(filter) = filter.as_mut().filter(|f| f.is_holding())
                            && master.write_all(&filter.flush()).is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    Read::Closed => return,
                };
                lock(&console).user_input();
                let (written, trigger) = match filter.as_mut() {
                    Some(filter) => {
                        let out = filter.feed(bytes);
                        (master.write_all(&out.forward), out.trigger)
                    }
                    None => (master.write_all(bytes), None),
                };
                if written.is_err() {
                    return;
                }
                if let Some(trigger) = trigger {
                    let _ = events.send(PumpEvent::User(trigger));
                    return;
                }
            }
        })
}

/// Starts the output pump reading `master` and writing to the console.
pub fn spawn_output(
    master: File,
    mut filter: Option<OutputFilter>,
    console: Arc<Mutex<Console>>,
    events: Sender<PumpEvent>,
    draining: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("relay-output".into())
        .spawn(move || {
            let mut buf = vec![0u8; OUTPUT_BUFFER];
            let mut filtered = FilteredOutput::default();
            let mut drain_started: Option<Instant> = None;
            loop {
                let timeout = if draining.load(Ordering::Relaxed) {
                    let started = *drain_started.get_or_insert_with(Instant::now);
                    if started.elapsed() >= DRAIN {
                        break;
                    }
                    SHORT_POLL_MS
                } else {
                    IDLE_POLL_MS
                };
                let bytes = match read_some(master.as_fd(), timeout, &mut buf) {
                    Read::Data(n) => &buf[..n],
                    Read::Nothing => {
                        flush_output(filter.as_mut(), &console);
                        continue;
                    }
                    Read::Closed => {
                        let _ = events.send(PumpEvent::OutputClosed);
                        break;
                    }
                };
                match filter.as_mut() {
                    Some(filter) => {
                        filtered.forward.clear();
                        filter.feed_into(bytes, &mut filtered);
                        lock(&console).child_output(&filtered.forward);
                        for event in filtered.events.drain(..) {
                            let _ = events.send(PumpEvent::Output(event));
                        }
                    }
                    None => lock(&console).child_output(bytes),
                }
            }
            flush_output(filter.as_mut(), &console);
        })
}

/// Passes on what the output filter holds (a lone ESC) once the child pauses or the pump ends.
fn flush_output(filter: Option<&mut OutputFilter>, console: &Mutex<Console>) {
    let held = filter.map(OutputFilter::flush).unwrap_or_default();
    if !held.is_empty() {
        lock(console).child_output(&held);
    }
}

/// Locks the console; a pump that panicked while holding it left nothing half-done that
/// matters more than the terminal, so poisoning is ignored.
pub fn lock(console: &Mutex<Console>) -> MutexGuard<'_, Console> {
    console.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Read {
    Data(usize),
    /// Nothing arrived within the timeout (or a signal interrupted the wait).
    Nothing,
    /// End-of-file, or an error that ends the stream (EIO: the PTY slave is closed).
    Closed,
}

fn read_some(fd: BorrowedFd<'_>, timeout_ms: u16, buf: &mut [u8]) -> Read {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(timeout_ms)) {
        Ok(0) | Err(Errno::EINTR) => return Read::Nothing,
        Ok(_) => {}
        Err(_) => return Read::Closed,
    }
    match nix::unistd::read(fd, buf) {
        Ok(0) => Read::Closed,
        Ok(n) => Read::Data(n),
        Err(Errno::EINTR | Errno::EAGAIN) => Read::Nothing,
        Err(_) => Read::Closed,
    }
}
