//! SIGINT, SIGTERM and SIGHUP, counted (runs-and-state.md §9).
//!
//! A task listens for the three signals and bumps a counter that executors watch: the first
//! signal asks the running child to stop gracefully, the second kills it at once. The runner
//! itself never dies from these signals while a run is in progress; it saves state and exits 130.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A cloneable view of how many interrupting signals the run has received, and of the [`Halt`]
/// of the parallel branch that holds it, if any.
#[derive(Clone, Debug)]
pub struct Interrupts {
    rx: watch::Receiver<u32>,
    tx: std::sync::Arc<watch::Sender<u32>>,
    halt: Option<Halt>,
}

/// The stop of one parallel branch (control.md §8): a sibling failed under `fail_fast`, or the
/// whole run must stop its branches (a budget). Halting a branch halts every branch started
/// inside it. A halted branch's process groups get the timeout stop (SIGTERM, `kill_grace`,
/// SIGKILL) and its steps end `interrupted`.
#[derive(Clone, Debug)]
pub struct Halt {
    rx: watch::Receiver<bool>,
    node: std::sync::Arc<HaltNode>,
}

#[derive(Debug)]
struct HaltNode {
    tx: watch::Sender<bool>,
    children: std::sync::Mutex<Vec<std::sync::Weak<HaltNode>>>,
}

impl Halt {
    /// A halt that nothing has triggered.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Halt {
            rx,
            node: std::sync::Arc::new(HaltNode {
                tx,
                children: std::sync::Mutex::default(),
            }),
        }
    }

    /// A halt that is triggered with this one (at once if this one already is).
    pub fn child(&self) -> Halt {
        let child = Halt::new();
        if let Ok(mut children) = self.node.children.lock() {
            children.retain(|c| c.strong_count() > 0);
            children.push(std::sync::Arc::downgrade(&child.node));
        }
        if self.is_set() {
            child.trigger();
        }
        child
    }

    /// Stops the branch and every branch inside it.
    pub fn trigger(&self) {
        HaltNode::trigger(&self.node);
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when the halt is triggered (at once if it is).
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|set| *set).await;
    }
}

impl Default for Halt {
    fn default() -> Self {
        Halt::new()
    }
}

impl HaltNode {
    fn trigger(node: &std::sync::Arc<HaltNode>) {
        node.tx.send_replace(true);
        let children: Vec<_> = node
            .children
            .lock()
            .map(|c| c.iter().filter_map(std::sync::Weak::upgrade).collect())
            .unwrap_or_default();
        for child in children {
            HaltNode::trigger(&child);
        }
    }
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
            halt: None,
        }
    }

    /// The same counter, seen from a parallel branch that `halt` stops.
    pub fn with_halt(&self, halt: Halt) -> Self {
        Interrupts {
            halt: Some(halt),
            ..self.clone()
        }
    }

    /// The branch's halt, if this view belongs to a parallel branch.
    pub fn halt(&self) -> Option<&Halt> {
        self.halt.as_ref()
    }

    /// Whether the branch this view belongs to was halted (never for the run's own view).
    pub fn halted(&self) -> bool {
        self.halt.as_ref().is_some_and(Halt::is_set)
    }

    /// Whether what runs now must stop: an interrupting signal, or a halt of its branch.
    pub fn stopping(&self) -> bool {
        self.count() > 0 || self.halted()
    }

    /// Resolves when what runs now must stop ([`Interrupts::stopping`]).
    pub async fn stop_requested(&mut self) {
        let Interrupts { rx, halt, .. } = self;
        match halt.as_mut() {
            Some(halt) => tokio::select! {
                _ = rx.wait_for(|count| *count > 0) => {}
                () = halt.wait() => {}
            },
            None => {
                let _ = rx.wait_for(|count| *count > 0).await;
            }
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
