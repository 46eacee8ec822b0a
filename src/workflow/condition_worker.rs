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
//! parsed on the spot.
//!
//! Handing over costs the loader next to nothing, as it runs while the file is read: texts go
//! in batches (one allocation for [`BATCH`] of them); the worker, out of work, naps and looks
//! again rather than waiting to be woken ([`NAP`]); and the analysis finds each text by its
//! place, since it asks for them in about the order the parser read them (only when it asks out
//! of order are the texts looked up by content). A process that has loaded all it will load
//! stops the worker ([`retire`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::condition::{Condition, SyntaxError};
use super::condition_check::is_expression;

/// The worker's stack: the size of a main thread's on Linux.
const STACK: usize = 8 << 20;

/// How many texts go to the worker at once.
const BATCH: usize = 32;

/// How far past the first text it has not taken the analysis looks for the one it wants before
/// it looks them all up (its order differs from the file's only where a step's fields are
/// written in another order than it reads them).
const AHEAD: usize = 8;

/// The conditions of one file handed to the worker, in the order the YAML parser read them.
#[derive(Default)]
pub struct Prepared {
    /// The batches sent, in order; all but the last hold [`BATCH`] texts.
    sent: Vec<Arc<Batch>>,
    /// Texts not sent yet.
    filling: Batch,
    /// For each text sent (numbered across the batches): whether the analysis has taken it.
    used: Vec<bool>,
    /// The first text sent that the analysis has not taken.
    next: usize,
    /// A batch of fewer than [`BATCH`] texts has been sent, or dropped (the file has been read):
    /// what comes after is parsed on the spot, so that texts keep their numbers.
    closed: bool,
    /// The numbers of the texts sent, by text: built the first time the analysis asks for a
    /// text out of order.
    index: Option<FxHashMap<Box<str>, Vec<usize>>>,
}

/// Texts handed over together, and their parses, shared with the worker.
#[derive(Default)]
struct Batch {
    /// The texts, one after another.
    text: String,
    /// Where each text ends in `text`.
    ends: Vec<usize>,
    slots: Vec<Slot>,
}

/// The parse of one text.
#[derive(Default)]
struct Slot {
    /// Set by the first thread to take the text up (the other one then leaves it).
    taken: AtomicBool,
    parsed: OnceLock<Result<Condition, SyntaxError>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Text `i`.
    fn text(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn push(&mut self, text: &str) {
        if self.ends.is_empty() {
            // Room for a batch of texts like this one (within reason: a text may be long).
            self.text.reserve(BATCH * text.len().min(256));
            self.ends.reserve(BATCH);
            self.slots.reserve(BATCH);
        }
        self.text.push_str(text);
        self.ends.push(self.text.len());
        self.slots.push(Slot::default());
    }

    /// For the worker: parses text `i`, unless the analysis took it up first.
    fn prepare(&self, i: usize) {
        let slot = &self.slots[i];
        if !slot.taken.swap(true, Ordering::AcqRel) {
            // Only the thread that took the text sets the cell.
            let _ = slot.parsed.set(Condition::parse(self.text(i)));
        }
    }

    /// For the analysis: the worker's parse of text `i` when it is done, otherwise a parse made
    /// now.
    fn take(&self, i: usize) -> Result<Condition, SyntaxError> {
        let slot = &self.slots[i];
        slot.taken.store(true, Ordering::Release);
        match slot.parsed.get() {
            Some(parsed) => parsed.clone(),
            None => Condition::parse(self.text(i)),
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

    /// Hands `text` over.
    pub fn add(&mut self, text: &str) {
        if self.closed {
            return;
        }
        self.filling.push(text);
        if self.filling.len() >= BATCH {
            self.send();
        }
    }

    /// Sends the texts not sent yet to the worker (also called when the file has been read).
    /// The worker is started by a full batch: a file with a few conditions is not worth a thread
    /// (they are parsed on the spot), unless one is running already.
    pub fn send(&mut self) {
        let batch = std::mem::take(&mut self.filling);
        self.closed = batch.len() < BATCH;
        match worker(batch.len() >= BATCH) {
            Some(worker) if batch.len() > 0 => {
                let batch = Arc::new(batch);
                if worker.hand(Arc::clone(&batch)) {
                    self.used.resize(self.used.len() + batch.len(), false);
                    self.sent.push(batch);
                } else {
                    // Refused (a single core): what comes is parsed on the spot.
                    self.closed = true;
                }
            }
            // Not sent: parsed on the spot when the analysis asks.
            _ => {}
        }
    }

    /// [`Condition::parse`] of `text`: the worker's when it has made it.
    pub fn parse(&mut self, text: &str) -> Result<Condition, SyntaxError> {
        match self.find(text) {
            Some(n) => {
                self.used[n] = true;
                while self.used.get(self.next) == Some(&true) {
                    self.next += 1;
                }
                self.sent[n / BATCH].take(n % BATCH)
            }
            None => Condition::parse(text),
        }
    }

    /// Text `n` of those sent.
    fn text(&self, n: usize) -> &str {
        self.sent[n / BATCH].text(n % BATCH)
    }

    /// The number of a text sent and not yet taken that is `text`: one of the first few not
    /// taken, as the analysis asks in about the order they were read, or else by the index.
    fn find(&mut self, text: &str) -> Option<usize> {
        let end = self.used.len().min(self.next + AHEAD);
        if let Some(n) = (self.next..end).find(|&n| !self.used[n] && self.text(n) == text) {
            return Some(n);
        }
        if self.next >= self.used.len() {
            return None;
        }
        if self.index.is_none() {
            let mut index: FxHashMap<Box<str>, Vec<usize>> = FxHashMap::default();
            for n in self.next..self.used.len() {
                index.entry(self.text(n).into()).or_default().push(n);
            }
            self.index = Some(index);
        }
        let used = &self.used;
        self.index
            .as_ref()
            .and_then(|index| index.get(text))
            .and_then(|numbers| numbers.iter().copied().find(|&n| !used[n]))
    }
}

/// How long the worker, out of work, naps before it looks at the queue again, and how many
/// naps it takes before it waits in the channel until a batch wakes it. A nap ends by itself, on
/// the worker's core; waking a waiting thread costs the loader a system call and, on a virtual
/// machine, an interrupt to the other core (some 7 µs each, measured), which a file read batch
/// by batch would pay for each batch. (Only [`retire`] wakes a napping worker.)
const NAP: Duration = Duration::from_micros(50);
const NAPS: u32 = 40;

/// The worker thread, started on first use, and how to hand it texts.
struct Worker {
    /// `None` once the worker is retired.
    sender: Mutex<Option<Sender<Arc<Batch>>>>,
    thread: Thread,
}

impl Worker {
    /// Queues `batch` (the channel wakes the worker if it waits in it); whether the worker takes
    /// batches (it stops at once on a single-core machine, and when retired). Nothing here waits
    /// for the worker: the lock is only ever held by this and [`retire`], and the channel's send
    /// takes none when no receiver waits in it (a napping worker does not).
    fn hand(&self, batch: Arc<Batch>) -> bool {
        let Ok(sender) = self.sender.lock() else {
            return false;
        };
        sender
            .as_ref()
            .is_some_and(|sender| sender.send(batch).is_ok())
    }
}

/// Stops the worker, for a process that has loaded all it is going to: its exit then does not
/// wait for the worker's core to wake up so that the kernel can stop the thread there (a few
/// hundred microseconds on a virtual machine, measured). Files loaded after this still load,
/// with their conditions parsed on the spot.
pub fn retire() {
    if let Some(worker) = worker(false) {
        // Without a sender, a wait in the channel ends at once; the unpark ends a nap.
        if let Ok(mut sender) = worker.sender.lock() {
            sender.take();
        }
        worker.thread.unpark();
    }
}

/// The worker, started if `start` says so and it is not yet; `None` when it is not started
/// or cannot be.
fn worker(start: bool) -> Option<&'static Worker> {
    static WORKER: OnceLock<Option<Worker>> = OnceLock::new();
    if !start {
        return WORKER.get().and_then(Option::as_ref);
    }
    WORKER
        .get_or_init(|| {
            let (sender, receiver) = channel::<Arc<Batch>>();
            let loader_core = current_core();
            let handle = std::thread::Builder::new()
                .name("conditions".to_owned())
                // As deep as the main thread's: a parse must not fail here that would not there.
                .stack_size(STACK)
                .spawn(move || work(&receiver, loader_core))
                .ok()?;
            start_elsewhere(&handle, loader_core);
            Some(Worker {
                sender: Mutex::new(Some(sender)),
                thread: handle.thread().clone(),
            })
        })
        .as_ref()
}

/// The worker's loop: parse what comes; out of work, nap, then wait for a batch. It runs off
/// the core of the thread that started it (`loader_core`), at idle priority; on a machine with a
/// single core it stops at once (a second thread would only take turns with the first), which
/// the loader sees when its next batch is refused. (It asks how many cores there are itself,
/// because asking reads files of the control groups, which the loader would wait for; it first
/// takes back the cores [`start_elsewhere`] took from it, which the answer counts.)
fn work(receiver: &Receiver<Arc<Batch>>, loader_core: Option<usize>) {
    run_on_cores_except(None);
    if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
        return;
    }
    run_on_cores_except(loader_core);
    idle_priority();
    let mut naps = 0;
    loop {
        let batch = match receiver.try_recv() {
            Ok(batch) => batch,
            Err(TryRecvError::Empty) if naps < NAPS => {
                naps += 1;
                std::thread::park_timeout(NAP);
                continue;
            }
            Err(TryRecvError::Empty) => match receiver.recv() {
                Ok(batch) => batch,
                Err(_) => return,
            },
            Err(TryRecvError::Disconnected) => return,
        };
        naps = 0;
        for i in 0..batch.len() {
            // A batch whose file is done is no longer waited for.
            if Arc::strong_count(&batch) == 1 {
                break;
            }
            batch.prepare(i);
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

/// Has the thread of `handle` (the worker, just started) start on another core than `core`
/// (the loading thread's), if there is one. A new thread is queued on the core of the thread
/// that started it, where it waits for that thread's time slice to end or for the idle core to
/// pull it over (measured: a median of 2 ms, most of the time a file takes to read, and up to
/// 4 ms); moved at once, it starts on the idle core within a fraction of a millisecond.
fn start_elsewhere<T>(handle: &std::thread::JoinHandle<T>, core: Option<usize>) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::thread::JoinHandleExt;
        let thread = handle.as_pthread_t();
        // SAFETY: `handle` has not joined or detached the thread, so `thread` is valid; the
        // set is read only while the call runs.
        with_cores_except(core, |size, set| unsafe {
            nix::libc::pthread_setaffinity_np(thread, size, set);
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (handle, core);
}

/// Lets the calling thread run on the process's cores (its main thread's) except `core`,
/// unless that is the only one; `None` gives it all of them. Kept off the loading thread's core,
/// the worker is never queued behind it, where an idle-priority thread barely runs.
fn run_on_cores_except(core: Option<usize>) {
    #[cfg(target_os = "linux")]
    // SAFETY: pid 0 is the calling thread; the set is read only while the call runs.
    with_cores_except(core, |size, set| unsafe {
        nix::libc::sched_setaffinity(0, size, set);
    });
    #[cfg(not(target_os = "linux"))]
    let _ = core;
}

/// Calls `apply` with the process's cores (its main thread's) without `core`, unless that would
/// leave none.
#[cfg(target_os = "linux")]
fn with_cores_except(core: Option<usize>, apply: impl FnOnce(usize, &nix::libc::cpu_set_t)) {
    use nix::libc::{CPU_CLR, CPU_COUNT, cpu_set_t, getpid, sched_getaffinity};
    let size = std::mem::size_of::<cpu_set_t>();
    // SAFETY: `set` is a plain bit set, zeroed, written by `sched_getaffinity` only while it runs
    // (the process id names the main thread) and by `CPU_CLR` within its size.
    unsafe {
        let mut set: cpu_set_t = std::mem::zeroed();
        if sched_getaffinity(getpid(), size, &mut set) != 0 {
            return;
        }
        if let Some(core) = core {
            let mut without = set;
            CPU_CLR(core, &mut without);
            if CPU_COUNT(&without) > 0 {
                set = without;
            }
        }
        apply(size, &set);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// What a parse gives, comparable: the names read, or the error.
    fn outcome(parsed: Result<Condition, SyntaxError>) -> Result<Vec<String>, SyntaxError> {
        parsed.map(|c| c.uses().names().map(str::to_owned).collect())
    }

    /// Texts of three batches: valid ones, and two kinds of syntax error.
    fn texts() -> Vec<String> {
        (0..3 * BATCH)
            .map(|n| match n % 3 {
                0 => format!("a{n} == 1 && steps.build.outcome == 'success'"),
                1 => format!("a{n} &&& b"),
                _ => format!("x{n} > "),
            })
            .collect()
    }

    /// Hands `texts` over and, when the machine has a worker, lets it parse those it took, so
    /// that its results are the ones taken. (Tests share the worker: one may have retired it.)
    fn handed(texts: &[String]) -> Prepared {
        let mut prepared = Prepared::default();
        for text in texts {
            prepared.watch("when", text);
        }
        prepared.send();
        let last = prepared.sent.last().and_then(|b| b.slots.last());
        if last.is_some() && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
            let start = Instant::now();
            while last.is_some_and(|s| s.parsed.get().is_none()) && start.elapsed().as_secs() < 10 {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(
                last.is_some_and(|s| s.parsed.get().is_some()),
                "the worker parsed the texts"
            );
        }
        prepared
    }

    #[test]
    fn gives_what_parsing_on_the_spot_gives() {
        let texts = texts();
        let mut prepared = handed(&texts);
        for text in &texts {
            assert_eq!(
                outcome(prepared.parse(text)),
                outcome(Condition::parse(text)),
                "{text}"
            );
        }
        // Asked in the order they were read: no index was needed, and all were taken.
        assert!(prepared.index.is_none());
        assert_eq!(prepared.next, prepared.used.len());
        // Not handed over, or asked for once more: parsed on the spot.
        assert_eq!(
            prepared.parse("b != 2").map(|c| c.text().to_owned()),
            Ok("b != 2".to_owned())
        );
        assert_eq!(
            outcome(prepared.parse(&texts[0])),
            outcome(Condition::parse(&texts[0]))
        );
    }

    #[test]
    fn texts_asked_out_of_order_or_twice_are_found() {
        let mut texts = texts();
        // The same condition on two steps: two texts, each taken once.
        texts.push(texts[0].clone());
        let mut prepared = handed(&texts);
        if prepared.sent.is_empty() {
            return;
        }
        // A few places out of order (a field written before the ones read first): looked for
        // among the next few, without the index.
        let swapped = [1, 0, 3, 2];
        for &n in &swapped {
            assert_eq!(
                outcome(prepared.parse(&texts[n])),
                outcome(Condition::parse(&texts[n]))
            );
        }
        assert!(prepared.index.is_none());
        assert_eq!(prepared.next, swapped.len());
        // The rest backwards: found through the index.
        for text in texts[swapped.len()..].iter().rev() {
            assert_eq!(
                outcome(prepared.parse(text)),
                outcome(Condition::parse(text))
            );
        }
        assert!(prepared.index.is_some());
        assert!(
            prepared.used.iter().all(|&used| used),
            "each text was taken once"
        );
        assert_eq!(prepared.next, prepared.used.len());
    }

    #[test]
    fn a_sleeping_worker_is_woken() {
        let texts = texts();
        let first = handed(&texts);
        if first.sent.is_empty() {
            return;
        }
        // Past its naps, the worker sleeps until a batch wakes it (`handed` waits for it).
        std::thread::sleep(NAP * NAPS * 5);
        handed(&texts);
    }

    #[test]
    fn a_retired_worker_takes_nothing_and_conditions_still_parse() {
        let texts = texts();
        handed(&texts);
        retire();
        let mut prepared = Prepared::default();
        for text in &texts {
            prepared.watch("when", text);
        }
        prepared.send();
        if worker(false).is_some() {
            assert!(prepared.sent.is_empty(), "the batch was refused");
            assert!(prepared.closed);
        }
        for text in &texts {
            assert_eq!(
                outcome(prepared.parse(text)),
                outcome(Condition::parse(text)),
                "{text}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_worker_starts_off_the_loading_core_unless_it_is_the_only_one() {
        use nix::libc::{CPU_COUNT, CPU_ISSET, cpu_set_t};
        let cores = |except: Option<usize>| {
            let mut seen: Option<cpu_set_t> = None;
            with_cores_except(except, |_, set| seen = Some(*set));
            seen.expect("the process's cores are known")
        };
        let core = current_core().expect("the core of this thread is known");
        let (all, others) = (cores(None), cores(Some(core)));
        // SAFETY: reads of plain bit sets within their size.
        unsafe {
            assert!(
                CPU_ISSET(core, &all),
                "this thread runs on one of the process's cores"
            );
            if CPU_COUNT(&all) > 1 {
                assert!(!CPU_ISSET(core, &others));
                assert_eq!(CPU_COUNT(&others), CPU_COUNT(&all) - 1);
            } else {
                assert_eq!(CPU_COUNT(&others), 1, "the only core is kept");
            }
        }
    }

    #[test]
    fn only_expressions_are_handed_over() {
        let mut prepared = Prepared::default();
        prepared.watch("when", "a == 1");
        prepared.watch("break_if", " success ");
        prepared.watch("break_if", "failure");
        prepared.watch("break_if", "a > 2");
        prepared.watch("command", "a == 3");
        let batch = &prepared.filling;
        let texts: Vec<&str> = (0..batch.len()).map(|i| batch.text(i)).collect();
        assert_eq!(texts, ["a == 1", "a > 2"]);
    }
}
