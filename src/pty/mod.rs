//! The interactive relay (interactive.md): runs an agent CLI or an interactive shell command in a
//! pseudo-terminal and copies bytes between it and the user's terminal.
//!
//! The executors call [`run_relay`]; the CLI's `step continue` calls [`step_continue`]. The
//! [`relay`] module doc explains how the pieces fit together.
//!
//! The pure state machines decide everything about the byte streams and are tested against every
//! split of their input: [`input_filter`] (the user's keys, with the [`line_tracker`]),
//! [`output_filter`] (the agent's output and its sentinel), [`transcript`] and the
//! [`screen_tracker`] (alternate screen and column 1 without a full screen model). Around them: the
//! [`terminal_guard`] (raw mode, restored on every way out) and the [`terminal_reset`] sequence;
//! the [`control_socket`] server and its [`client`]; and the relay's private parts — the child
//! process, the copy pumps, the console with its screen model and idle hint, and the signal
//! handlers.

mod child;
pub mod client;
mod console;
pub mod control_socket;
mod idle_hint;
pub mod input_filter;
pub mod line_tracker;
pub mod output_filter;
mod pumps;
pub mod relay;
pub mod screen_tracker;
mod signals;
#[cfg(test)]
mod splits;
pub mod terminal_guard;
pub mod terminal_reset;
pub mod transcript;

pub use client::{ContinueReport, step_continue};
pub use control_socket::{control_socket_path, new_token};
pub use relay::{
    CompletionSource, Redactor, RelayEnd, RelayError, RelayInterrupt, RelayOutcome, RelaySpec,
    Triggers, check_terminals, run_relay,
};
