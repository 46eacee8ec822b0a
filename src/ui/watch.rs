//! Wake-ups for the live parts of the view: a file-system watch (`notify`: inotify, FSEvents, …)
//! on the runs being shown, or, where that cannot be set up, a tick once a second. Listeners
//! re-read only what they show when woken; nothing re-reads on a faster timer.

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::broadcast;

/// How often the fallback wakes the listeners.
pub const POLL: Duration = Duration::from_secs(1);

/// The source of wake-ups. Keeps the watcher alive.
#[derive(Debug)]
pub struct Changes {
    sender: broadcast::Sender<()>,
    /// `None` when polling.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Changes {
    /// Watches `dir` recursively, or starts the polling fallback.
    pub fn start(dir: &Path) -> Self {
        let (sender, _) = broadcast::channel(16);
        let notify_sender = sender.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = notify_sender.send(());
            }
        })
        .and_then(|mut watcher| {
            watcher.watch(dir, RecursiveMode::Recursive)?;
            Ok(watcher)
        });
        match watcher {
            Ok(watcher) => Changes {
                sender,
                _watcher: Some(watcher),
            },
            Err(err) => {
                tracing::debug!(
                    "no file-system notifications for {}: {err}; polling",
                    dir.display()
                );
                let ticks = sender.clone();
                std::thread::spawn(move || {
                    loop {
                        std::thread::sleep(POLL);
                        let _ = ticks.send(());
                    }
                });
                Changes {
                    sender,
                    _watcher: None,
                }
            }
        }
    }

    /// A listener for the next wake-ups.
    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.sender.subscribe()
    }
}

/// Waits for the next wake-up, or [`POLL`] at most (a missed or lagged notification only delays
/// an update by that much).
pub async fn next(receiver: &mut broadcast::Receiver<()>) {
    let _ = tokio::time::timeout(POLL, receiver.recv()).await;
}
