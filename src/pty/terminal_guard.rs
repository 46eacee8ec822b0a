//! The terminal guard: raw mode for the relay, and the user's terminal settings back on every way
//! out (interactive.md §1.3, §9).
//!
//! [`TerminalGuard::enter_raw`] saves the termios of the user's terminal and switches it to raw
//! mode. The saved settings live in one process-wide slot so that a panic hook, installed once,
//! can restore them before the panic message is printed; dropping the guard (normal end, error,
//! `?`, the interrupt path) restores them too. Restoring is idempotent, so whichever comes first
//! wins and the other is a no-op. There is one user terminal, hence at most one guard at a time.
//!
//! Raw mode is `cfmakeraw` plus VMIN 1 / VTIME 0. That clears everything the spec lists (ICANON,
//! ECHO, ISIG, IEXTEN, IXON, OPOST) and also ICRNL and friends, so Enter reaches the agent as the
//! CR the terminal sent. SIGTTOU is blocked around every `tcsetattr`, so changing the terminal
//! from a background process group does not stop the runner.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::termios::{self, SetArg, SpecialCharacterIndices, Termios};

/// The settings to restore, shared with the panic hook.
static SAVED: Mutex<Option<Saved>> = Mutex::new(None);
static PANIC_HOOK: Once = Once::new();

struct Saved {
    /// A duplicate of the terminal descriptor, so restoring never depends on the caller's.
    fd: OwnedFd,
    termios: Termios,
}

/// Owns raw mode on the user's terminal; restores the saved settings when dropped.
#[derive(Debug)]
pub struct TerminalGuard {
    _owns_saved_slot: (),
}

impl TerminalGuard {
    /// Saves the terminal settings of `fd` and switches it to raw mode.
    pub fn enter_raw(fd: BorrowedFd<'_>) -> io::Result<Self> {
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        let owned = nix::unistd::dup(fd)?;
        {
            let mut slot = lock_saved();
            if slot.is_some() {
                return Err(io::Error::other("the terminal is already in raw mode"));
            }
            *slot = Some(Saved {
                fd: owned,
                termios: saved,
            });
        }
        PANIC_HOOK.call_once(install_panic_hook);
        let guard = Self {
            _owns_saved_slot: (),
        };
        set_attributes(fd, &raw)?;
        Ok(guard)
    }

    /// Restores the saved settings now. Later calls, and the drop, do nothing.
    pub fn restore(&self) -> io::Result<()> {
        restore_saved(lock_saved())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Nothing useful can be done if the terminal went away.
        let _ = restore_saved(lock_saved());
    }
}

fn lock_saved() -> MutexGuard<'static, Option<Saved>> {
    SAVED.lock().unwrap_or_else(PoisonError::into_inner)
}

fn restore_saved(mut slot: MutexGuard<'_, Option<Saved>>) -> io::Result<()> {
    match slot.take() {
        Some(saved) => set_attributes(saved.fd.as_fd(), &saved.termios),
        None => Ok(()),
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // try_lock: a panic while the slot is locked must not deadlock the hook.
        let slot = match SAVED.try_lock() {
            Ok(slot) => Some(slot),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        if let Some(slot) = slot {
            let _ = restore_saved(slot);
        }
        previous(info);
    }));
}

/// `tcsetattr` with SIGTTOU blocked on this thread.
fn set_attributes(fd: BorrowedFd<'_>, settings: &Termios) -> io::Result<()> {
    let mut blocked = SigSet::empty();
    blocked.add(Signal::SIGTTOU);
    let mut previous = SigSet::empty();
    let masked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut previous));
    let result = termios::tcsetattr(fd, SetArg::TCSANOW, settings);
    if masked.is_ok() {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
    }
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::termios::{InputFlags, LocalFlags, OutputFlags};
    use std::os::fd::AsFd;

    #[test]
    fn raw_mode_is_entered_and_restored() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let before = termios::tcgetattr(pty.slave.as_fd()).unwrap();
        assert!(before.local_flags.contains(LocalFlags::ICANON));
        {
            let guard = TerminalGuard::enter_raw(pty.slave.as_fd()).unwrap();
            let raw = termios::tcgetattr(pty.slave.as_fd()).unwrap();
            for flag in [
                LocalFlags::ICANON,
                LocalFlags::ECHO,
                LocalFlags::ISIG,
                LocalFlags::IEXTEN,
            ] {
                assert!(!raw.local_flags.contains(flag), "{flag:?}");
            }
            assert!(!raw.input_flags.contains(InputFlags::IXON));
            assert!(!raw.output_flags.contains(OutputFlags::OPOST));
            assert_eq!(raw.control_chars[SpecialCharacterIndices::VMIN as usize], 1);
            assert_eq!(
                raw.control_chars[SpecialCharacterIndices::VTIME as usize],
                0
            );
            assert!(TerminalGuard::enter_raw(pty.slave.as_fd()).is_err());
            guard.restore().unwrap();
            guard.restore().unwrap();
        }
        let after = termios::tcgetattr(pty.slave.as_fd()).unwrap();
        assert_eq!(after.local_flags, before.local_flags);
        assert_eq!(after.output_flags, before.output_flags);
    }
}
