//! Conditions parsed ahead, on a second thread, while the main thread goes on reading the file.
//!
//! Parsing a condition (by the `cel` crate, see [`condition`](super::condition)) costs a few
//! microseconds, which a file with a `when` on every step pays a thousand times, while the rest
//! of loading is single-threaded and waits. So the loader hands each condition text to
//! [`Prepared::watch`] as soon as the YAML parser reads it; a long-lived worker thread parses the
//! texts in that order, and the analysis takes each result with [`Prepared::parse`] when it
//! reaches the step. Nothing changes in what is found or reported: the result is exactly
//! [`Condition::parse`]'s, whichever thread ran it.
//!
//! The analysis never waits for the worker: a condition whose parse is not ready when the
//! analysis reaches it (not started, or under way on a worker that the machine's other work may
//! have put to sleep) is parsed on the spot, and the worker skips it if it has not started it.
//! A text the loader did not hand over (or no worker at all, on a single-core machine) is simply
//! parsed on the spot. Texts go to the worker in batches, so that the loader does not wake it
//! for each one.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

use rustc_hash::FxHashSet;

use super::condition::{Condition, SyntaxError};
use super::condition_check::is_expression;

/// The worker's stack: the size of a main thread's on Linux.
const STACK: usize = 8 << 20;

/// How many texts go to the worker at once.
const BATCH: usize = 32;

/// The conditions of one file handed to the worker, by text.
#[derive(Default)]
pub struct Prepared {
    slots: FxHashSet<Slot>,
    /// Texts not sent yet.
    batch: Vec<Arc<Pending>>,
}

/// One condition text and its parse, shared with the worker.
struct Slot(Arc<Pending>);

struct Pending {
    text: Box<str>,
    /// Set by the first thread to take the text up (the other one then leaves it).
    taken: AtomicBool,
    parsed: OnceLock<Result<Condition, SyntaxError>>,
}

impl Pending {
    /// For the worker: parses the text, unless the analysis took it up first.
    fn prepare(&self) {
        if !self.taken.swap(true, Ordering::AcqRel) {
            // Only the thread that took the text sets the cell.
            let _ = self.parsed.set(Condition::parse(&self.text));
        }
    }

    /// For the analysis: the worker's parse when it is done, otherwise a parse made now.
    fn take(&self) -> Result<Condition, SyntaxError> {
        self.taken.store(true, Ordering::Release);
        match self.parsed.get() {
            Some(parsed) => parsed.clone(),
            None => Condition::parse(&self.text),
        }
    }
}

impl Prepared {
    /// For the YAML parser's watch: hands `value` over when `key` is a field with a condition.
    pub fn watch(&mut self, key: &str, value: &str) {
        if is_expression(key, value) {
            self.add(value);
        }
    }

    /// Hands `text` over, unless it already is.
    pub fn add(&mut self, text: &str) {
        let pending = Arc::new(Pending {
            text: text.into(),
            taken: AtomicBool::new(false),
            parsed: OnceLock::new(),
        });
        // A text met before keeps its slot.
        if !self.slots.insert(Slot(Arc::clone(&pending))) {
            return;
        }
        self.batch.push(pending);
        if self.batch.len() >= BATCH {
            self.send();
        }
    }

    /// Sends the texts not sent yet to the worker (also called when the file has been read).
    /// The worker is started by a full batch: a file with a few conditions is not worth a thread
    /// (they are parsed on the spot), unless one is running already.
    pub fn send(&mut self) {
        let start = self.batch.len() >= BATCH;
        match worker(start) {
            Some(worker) if !self.batch.is_empty() => worker.hand(std::mem::take(&mut self.batch)),
            _ => self.batch.clear(),
        }
    }

    /// [`Condition::parse`] of `text`: the worker's when it has made it.
    pub fn parse(&self, text: &str) -> Result<Condition, SyntaxError> {
        match self.slots.get(text) {
            Some(slot) => slot.0.take(),
            None => Condition::parse(text),
        }
    }
}

/// The worker thread, started on first use, and how to hand it texts.
struct Worker {
    sender: Sender<Vec<Arc<Pending>>>,
    thread: Thread,
}

impl Worker {
    /// Queues `batch` and wakes the worker. Neither waits for it: the channel's send takes no
    /// lock when no receiver is blocked in it (the worker never is), and an unpark is an atomic
    /// swap (with a wake-up call only when the worker sleeps).
    fn hand(&self, batch: Vec<Arc<Pending>>) {
        if self.sender.send(batch).is_ok() {
            self.thread.unpark();
        }
    }
}

/// The worker, started if `start` says so and it is not yet; `None` when it is not started,
/// the machine has a single core (a second thread would only take turns with the first) or the
/// thread cannot be started.
fn worker(start: bool) -> Option<&'static Worker> {
    static WORKER: OnceLock<Option<Worker>> = OnceLock::new();
    if !start {
        return WORKER.get().and_then(Option::as_ref);
    }
    WORKER
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            if cores < 2 {
                return None;
            }
            let (sender, receiver) = channel::<Vec<Arc<Pending>>>();
            let loader_core = current_core();
            let handle = std::thread::Builder::new()
                .name("conditions".to_owned())
                // As deep as the main thread's: a parse must not fail here that would not there.
                .stack_size(STACK)
                .spawn(move || work(&receiver, loader_core))
                .ok()?;
            Some(Worker {
                sender,
                thread: handle.thread().clone(),
            })
        })
        .as_ref()
}

/// The worker's loop: parse what comes, sleep when there is nothing. It runs off the core of
/// the thread that started it (`loader_core`), at idle priority.
fn work(receiver: &Receiver<Vec<Arc<Pending>>>, loader_core: Option<usize>) {
    keep_off(loader_core);
    idle_priority();
    loop {
        match receiver.try_recv() {
            Ok(batch) => {
                for pending in batch {
                    // A text whose file is done is no longer waited for.
                    if Arc::strong_count(&pending) > 1 {
                        pending.prepare();
                    }
                }
            }
            // Woken by the next `hand` (or at once, if it came since).
            Err(TryRecvError::Empty) => std::thread::park(),
            Err(TryRecvError::Disconnected) => return,
        }
    }
}

/// The core the calling thread runs on, if the system says.
#[cfg(target_os = "linux")]
fn current_core() -> Option<usize> {
    // SAFETY: no arguments; returns -1 on failure.
    usize::try_from(unsafe { nix::libc::sched_getcpu() }).ok()
}

#[cfg(not(target_os = "linux"))]
fn current_core() -> Option<usize> {
    None
}

/// Keeps the calling thread off `core` (the loading thread's, when the worker starts), if
/// another core is allowed: woken by the loader, the scheduler would otherwise often queue the
/// worker behind it on the same core, where an idle-priority thread barely runs.
fn keep_off(core: Option<usize>) {
    #[cfg(target_os = "linux")]
    if let Some(core) = core {
        use nix::libc::{CPU_CLR, CPU_COUNT, cpu_set_t, sched_getaffinity, sched_setaffinity};
        let size = std::mem::size_of::<cpu_set_t>();
        // SAFETY: `set` is a plain bit set, zeroed, read and written by the calls below only
        // while they run; pid 0 is the calling thread.
        unsafe {
            let mut set: cpu_set_t = std::mem::zeroed();
            if sched_getaffinity(0, size, &mut set) != 0 {
                return;
            }
            CPU_CLR(core, &mut set);
            if CPU_COUNT(&set) > 0 {
                let _ = sched_setaffinity(0, size, &set);
            }
        }
    }
}

/// Lets the calling thread run only on a core that nothing else wants (`SCHED_IDLE`): the
/// worker must not take the core of the thread it helps (which then parses on the spot what is
/// not ready), nor slow down other programs.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = nix::libc::sched_param { sched_priority: 0 };
        // SAFETY: the call reads `param` only while it runs; pid 0 is the calling thread.
        // Failing leaves the thread at its normal priority, which is only less polite.
        let _ = unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_IDLE, &param) };
    }
}

impl Borrow<str> for Slot {
    fn borrow(&self) -> &str {
        &self.0.text
    }
}

/// Slots hash and compare as their text, so that they can be found by it.
impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.text.hash(state);
    }
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for Slot {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parse gives, comparable: the names read, or the error.
    fn outcome(parsed: Result<Condition, SyntaxError>) -> Result<Vec<String>, SyntaxError> {
        parsed.map(|c| c.uses().names.clone())
    }

    #[test]
    fn gives_what_parsing_on_the_spot_gives() {
        let texts: Vec<String> = (0..3 * BATCH)
            .map(|n| match n % 3 {
                0 => format!("a{n} == 1 && steps.build.outcome == 'success'"),
                1 => format!("a{n} &&& b"),
                _ => format!("x{n} > "),
            })
            .collect();
        let mut prepared = Prepared::default();
        for text in &texts {
            prepared.watch("when", text);
        }
        prepared.send();
        // Let the worker (if the machine has one) finish, so that its results are the ones taken.
        if let Some(last) = texts
            .last()
            .and_then(|text| prepared.slots.get(text.as_str()))
            && worker(false).is_some()
        {
            let start = std::time::Instant::now();
            while last.0.parsed.get().is_none() && start.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert!(last.0.parsed.get().is_some(), "the worker parsed the texts");
        }
        for text in &texts {
            assert_eq!(
                outcome(prepared.parse(text)),
                outcome(Condition::parse(text)),
                "{text}"
            );
        }
        // Not handed over: parsed on the spot.
        assert_eq!(
            prepared.parse("b != 2").map(|c| c.text().to_owned()),
            Ok("b != 2".to_owned())
        );
    }

    #[test]
    fn only_expressions_are_handed_over() {
        let mut prepared = Prepared::default();
        prepared.watch("when", "a == 1");
        prepared.watch("break_if", " success ");
        prepared.watch("break_if", "failure");
        prepared.watch("break_if", "a > 2");
        prepared.watch("command", "a == 3");
        let mut texts: Vec<&str> = prepared.slots.iter().map(|s| &*s.0.text).collect();
        texts.sort_unstable();
        assert_eq!(texts, ["a == 1", "a > 2"]);
    }
}
