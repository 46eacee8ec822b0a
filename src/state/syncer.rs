//! [`Syncer`]: one long-lived thread that `fdatasync`s a run's journal (and its audit log) on
//! request, so the flush of a step's end overlaps whatever the runner does next, and a caller
//! that needs the record on disk waits only for the flush already under way.
//!
//! Requests carry a generation (the number of journal records appended so far). A flush always
//! syncs up to the newest request, so requests that arrive during a flush are served by one
//! more flush, not one each. A caller that waits while no flush is under way does the flush on
//! its own thread.

use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

#[derive(Default)]
struct Progress {
    requested: u64,
    done: u64,
    /// A flush is under way (on the syncer thread or on a waiting caller's).
    busy: bool,
    /// Fsynced before the files by the first flush (see [`Syncer::start`]).
    first: Option<File>,
    /// The first flush that failed: every later wait reports it.
    error: Option<(io::ErrorKind, String)>,
    stop: bool,
}

struct Inner {
    progress: Mutex<Progress>,
    changed: Condvar,
    /// Synced in order by every flush (the journal first).
    files: Vec<File>,
}

type Shared = Arc<Inner>;

/// The syncer thread of one run; dropping it finishes the pending flush and joins the thread.
pub struct Syncer {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Syncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer").finish_non_exhaustive()
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Progress> {
    // A poisoned lock only means a flushing thread panicked; the state is still consistent.
    shared
        .progress
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn wait_for_change<'a>(
    shared: &'a Shared,
    progress: MutexGuard<'a, Progress>,
) -> MutexGuard<'a, Progress> {
    shared
        .changed
        .wait(progress)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Flushes everything requested so far on the calling thread (the lock is let go meanwhile),
/// then records it and wakes every waiter.
fn flush<'a>(
    shared: &'a Shared,
    mut progress: MutexGuard<'a, Progress>,
) -> MutexGuard<'a, Progress> {
    let target = progress.requested;
    let first = progress.first.take();
    progress.busy = true;
    drop(progress);
    let result = first
        .map_or(Ok(()), |dir| dir.sync_all())
        .and_then(|()| shared.files.iter().try_for_each(File::sync_data));
    let mut progress = lock(shared);
    progress.busy = false;
    progress.done = progress.done.max(target);
    if let Err(err) = result
        && progress.error.is_none()
    {
        progress.error = Some((err.kind(), err.to_string()));
    }
    shared.changed.notify_all();
    progress
}

impl Syncer {
    /// Starts the thread. Each flush syncs `files` in order (the journal first); the first flush
    /// also fsyncs `first` before them (the directory of a journal file that was just created,
    /// so that its entry is on disk with its first records).
    pub fn start(files: Vec<File>, first: Option<File>) -> io::Result<Syncer> {
        let shared = Arc::new(Inner {
            progress: Mutex::new(Progress {
                first,
                ..Progress::default()
            }),
            changed: Condvar::new(),
            files,
        });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("journal-sync".to_owned())
            .spawn(move || run(&theirs))?;
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for everything up to generation `generation` to be flushed; returns at once.
    pub fn request(&self, generation: u64) {
        let mut progress = lock(&self.shared);
        if generation > progress.requested {
            progress.requested = generation;
            self.shared.changed.notify_all();
        }
    }

    /// Waits until everything up to generation `generation` is on disk. When no flush is under
    /// way, the caller flushes itself rather than wake the thread and wait for it to be
    /// scheduled (the usual case: a step's end is waited for right after it was requested).
    pub fn wait(&self, generation: u64) -> io::Result<()> {
        let mut progress = lock(&self.shared);
        progress.requested = progress.requested.max(generation);
        loop {
            if let Some((kind, message)) = &progress.error {
                return Err(io::Error::new(*kind, message.clone()));
            }
            if progress.done >= generation {
                return Ok(());
            }
            progress = if progress.busy {
                wait_for_change(&self.shared, progress)
            } else {
                flush(&self.shared, progress)
            };
        }
    }
}

fn run(shared: &Shared) {
    loop {
        let mut progress = lock(shared);
        while (progress.requested == progress.done || progress.busy) && !progress.stop {
            progress = wait_for_change(shared, progress);
        }
        if progress.requested == progress.done {
            return;
        }
        drop(flush(shared, progress));
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_return_once_flushed_and_requests_coalesce() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let syncer = Syncer::start(vec![file], None).unwrap();
        syncer.request(1);
        syncer.request(3);
        syncer.wait(3).unwrap();
        assert!(lock(&syncer.shared).done >= 3);
        syncer.wait(2).unwrap();
    }

    #[test]
    fn a_wait_with_no_flush_under_way_flushes_on_the_callers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let syncer = Syncer::start(vec![file], None).unwrap();
        // Never requested: the thread was not woken, so only the caller can have flushed.
        syncer.wait(5).unwrap();
        let progress = lock(&syncer.shared);
        assert!(progress.done >= 5 && !progress.busy);
    }

    #[test]
    fn requests_and_waits_from_several_threads_all_end_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let syncer = Syncer::start(vec![file], None).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let syncer = &syncer;
                scope.spawn(move || {
                    for g in 1..=50u64 {
                        let generation = g * 4 + t;
                        syncer.request(generation);
                        syncer.wait(generation).unwrap();
                    }
                });
            }
        });
        assert!(lock(&syncer.shared).done >= 203);
    }
}
