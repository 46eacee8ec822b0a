//! Signal handling while the relay runs (interactive.md §2, §3): SIGWINCH sets a flag the relay
//! loop polls, and SIGTSTP is ignored.
//!
//! Both get real (no-op or flag-setting) handlers rather than `SIG_IGN`: a handled signal goes
//! back to its default in the child at `exec`, while an ignored one would stay ignored in the agent
//! and break its own Ctrl-Z. The previous dispositions come back when [`RelaySignals`] is dropped.
//! The handlers only store to an atomic, which is async-signal-safe.

use std::ffi::c_int;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static RESIZED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_winch(_: c_int) {
    RESIZED.store(true, Ordering::Relaxed);
}

extern "C" fn on_tstp(_: c_int) {}

/// The relay's signal handlers; the previous ones are restored on drop.
#[derive(Debug)]
pub struct RelaySignals {
    previous_winch: SigAction,
    previous_tstp: SigAction,
}

impl RelaySignals {
    /// Installs the SIGWINCH and SIGTSTP handlers.
    pub fn install() -> io::Result<Self> {
        RESIZED.store(false, Ordering::Relaxed);
        let previous_winch = set(Signal::SIGWINCH, SigHandler::Handler(on_winch))?;
        let previous_tstp = match set(Signal::SIGTSTP, SigHandler::Handler(on_tstp)) {
            Ok(previous) => previous,
            Err(err) => {
                let _ = restore(Signal::SIGWINCH, &previous_winch);
                return Err(err);
            }
        };
        Ok(Self {
            previous_winch,
            previous_tstp,
        })
    }

    /// Whether the terminal was resized since the last call.
    pub fn take_resize(&self) -> bool {
        RESIZED.swap(false, Ordering::Relaxed)
    }
}

impl Drop for RelaySignals {
    fn drop(&mut self) {
        let _ = restore(Signal::SIGWINCH, &self.previous_winch);
        let _ = restore(Signal::SIGTSTP, &self.previous_tstp);
    }
}

fn set(signal: Signal, handler: SigHandler) -> io::Result<SigAction> {
    let action = SigAction::new(handler, SaFlags::SA_RESTART, SigSet::empty());
    restore(signal, &action)
}

fn restore(signal: Signal, action: &SigAction) -> io::Result<SigAction> {
    // SAFETY: the handlers installed here only store to an atomic (async-signal-safe), and
    // restoring a disposition returned by an earlier `sigaction` is always valid.
    Ok(unsafe { sigaction(signal, action) }?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigwinch_sets_the_flag_and_handlers_are_restored() {
        let signals = RelaySignals::install().unwrap();
        nix::sys::signal::raise(Signal::SIGWINCH).unwrap();
        assert!(signals.take_resize());
        assert!(!signals.take_resize());
        nix::sys::signal::raise(Signal::SIGTSTP).unwrap();
        drop(signals);
        let current = set(Signal::SIGWINCH, SigHandler::SigDfl).unwrap();
        assert_eq!(current.handler(), SigHandler::SigDfl);
    }
}
