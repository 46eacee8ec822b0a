//! [`Syncer`]: one long-lived thread that `fdatasync`s a run's journal (and its audit log) on
//! request, so the flush of a step's end overlaps whatever the runner does next, and a caller
//! that needs the record on disk waits only for the flush already under way.
//!
//! Requests carry a generation (the number of journal records appended so far). The thread
//! always syncs up to the newest request, so requests that arrive during a flush are served by
//! one more flush, not one each.

use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

#[derive(Default)]
struct Progress {
    requested: u64,
    done: u64,
    /// The first flush that failed: every later wait reports it.
    error: Option<(io::ErrorKind, String)>,
    stop: bool,
}

type Shared = Arc<(Mutex<Progress>, Condvar)>;

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
    // A poisoned lock only means the syncer thread panicked; its state is still consistent.
    shared
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Syncer {
    /// Starts the thread. Each flush syncs `files` in order (the journal first); the first flush
    /// also fsyncs `first` before them (the directory of a journal file that was just created,
    /// so that its entry is on disk with its first records).
    pub fn start(files: Vec<File>, first: Option<File>) -> io::Result<Syncer> {
        let shared: Shared = Arc::default();
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("journal-sync".to_owned())
            .spawn(move || run(&theirs, &files, first))?;
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
            self.shared.1.notify_all();
        }
    }

    /// Requests generation `generation` and waits until it is on disk.
    pub fn wait(&self, generation: u64) -> io::Result<()> {
        self.request(generation);
        let mut progress = lock(&self.shared);
        loop {
            if let Some((kind, message)) = &progress.error {
                return Err(io::Error::new(*kind, message.clone()));
            }
            if progress.done >= generation {
                return Ok(());
            }
            progress = self
                .shared
                .1
                .wait(progress)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

fn run(shared: &Shared, files: &[File], mut first: Option<File>) {
    loop {
        let target = {
            let mut progress = lock(shared);
            while progress.requested == progress.done && !progress.stop {
                progress = shared
                    .1
                    .wait(progress)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if progress.requested == progress.done {
                return;
            }
            progress.requested
        };
        let result = first
            .take()
            .map_or(Ok(()), |dir| dir.sync_all())
            .and_then(|()| files.iter().try_for_each(File::sync_data));
        let mut progress = lock(shared);
        progress.done = target;
        if let Err(err) = result
            && progress.error.is_none()
        {
            progress.error = Some((err.kind(), err.to_string()));
        }
        shared.1.notify_all();
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
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
}
