//! The interactive relay (interactive.md): runs an agent CLI or an interactive shell command in a
//! pseudo-terminal and copies bytes between it and the user's terminal.
//!
//! The pure state machines decide everything about the byte streams and are tested against every
//! split of their input: [`input_filter`] (the user's keys, with the [`line_tracker`]),
//! [`output_filter`] (the agent's output and its sentinel) and [`transcript`].
//!
//! Around them: the [`terminal_guard`] (raw mode, restored on every way out) and the
//! [`terminal_reset`] sequence; the [`control_socket`] server and its [`client`]
//! (`agent-runner step continue`).

pub mod client;
pub mod control_socket;
pub mod input_filter;
pub mod line_tracker;
pub mod output_filter;
#[cfg(test)]
mod splits;
pub mod terminal_guard;
pub mod terminal_reset;
pub mod transcript;

pub use client::{ContinueReport, step_continue};
