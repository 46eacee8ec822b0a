//! The stop signal of one running step: a budget crossed anywhere in the run tells every step
//! it covers to stop, with the reason each one fails with.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// Cloned between the tracker (which may stop the step) and the step's process (which waits).
#[derive(Debug, Clone, Default)]
pub struct Halt {
    reason: Arc<Mutex<Option<String>>>,
    notify: Arc<Notify>,
}

impl Halt {
    /// Asks the step to stop; the first reason given is kept.
    pub fn stop(&self, reason: String) {
        let mut slot = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(reason);
            self.notify.notify_one();
        }
    }

    /// Why the step was asked to stop, if it was.
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Resolves once the step is asked to stop (at once if it already was).
    pub async fn stopped(&self) {
        if self.reason().is_some() {
            return;
        }
        self.notify.notified().await;
    }
}
