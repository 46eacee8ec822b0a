//! The one integration-test binary: every module drives the real `agent-runner` through the
//! [`test::Test`] builder.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed setup step should stop the test"
)]

#[allow(
    dead_code,
    reason = "the builder offers more than the current tests use (fake CLIs, stdin, env)"
)]
mod test;

mod fixtures;
mod validate;
mod workflows;
