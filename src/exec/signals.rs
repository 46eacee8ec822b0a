//! SIGINT, SIGTERM and SIGHUP, counted (runs-and-state.md §9).
//!
//! A task listens for the three signals and bumps a counter that executors watch: the first
//! signal asks the running child to stop gracefully, the second kills it at once. The runner
//! itself never dies from these signals while a run is in progress; it saves state and exits 130.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A cloneable view of how many interrupting signals the run has received.
#[derive(Clone, Debug)]
pub struct Interrupts {
    rx: watch::Receiver<u32>,
    tx: std::sync::Arc<watch::Sender<u32>>,
}

/// The name of the first signal received, for the `interrupt` audit event.
#[derive(Clone, Debug, Default)]
pub struct SignalName(pub std::sync::Arc<std::sync::Mutex<Option<&'static str>>>);

impl Interrupts {
    /// A counter that only changes through [`Interrupts::trigger`] (for tests and `/abort`).
    pub fn manual() -> Self {
        let (tx, rx) = watch::channel(0);
        Interrupts {
            rx,
            tx: std::sync::Arc::new(tx),
        }
    }

    /// Starts listening for SIGINT, SIGTERM and SIGHUP. Must be called inside a tokio runtime.
    pub fn listen(name: SignalName) -> std::io::Result<Self> {
        let interrupts = Interrupts::manual();
        let mut streams = Vec::new();
        for (kind, label) in [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
        ] {
            streams.push((signal(kind)?, label));
        }
        for (mut stream, label) in streams {
            let interrupts = interrupts.clone();
            let name = name.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if let Ok(mut slot) = name.0.lock() {
                        slot.get_or_insert(label);
                    }
                    interrupts.trigger();
                }
            });
        }
        Ok(interrupts)
    }

    /// Counts one more interruption (a signal, or `/abort` in an interactive step).
    pub fn trigger(&self) {
        let first = self.count() == 0;
        self.tx.send_modify(|count| *count += 1);
        if first {
            crate::console::eprint_line(
                "agent-runner: stopping; press Ctrl-C again to kill immediately",
            );
        }
    }

    /// `/abort` in an interactive step: the run's first interruption, recorded as `abort`.
    pub fn abort(&self, name: &SignalName) {
        if let Ok(mut slot) = name.0.lock() {
            slot.get_or_insert("abort");
        }
        self.tx.send_modify(|count| *count += 1);
    }

    pub fn count(&self) -> u32 {
        *self.rx.borrow()
    }

    /// Resolves when the count goes above zero (at once if it already is).
    pub async fn next(&mut self) {
        self.next_after(0).await;
    }

    /// Resolves when the count goes above `seen`.
    pub async fn next_after(&mut self, seen: u32) {
        let _ = self.rx.wait_for(|count| *count > seen).await;
    }
}
