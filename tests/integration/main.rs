//! The integration test binary: one binary for every integration test (style.md point 9).

mod fake_agent;
