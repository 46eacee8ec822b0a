//! The integration tests: one binary, one module per area.

// Helpers outside `#[test]` functions are test code too; clippy's in-test allowance misses them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failing test should stop at the failing line"
)]

mod pty_relay;
