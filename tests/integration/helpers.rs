//! Where the test helper binaries are. `fake-agent` and `relay-host` belong to the
//! `agent-runner-test-helpers` workspace member (crates/test-helpers), so that installing
//! agent-runner installs only `agent-runner`; Cargo sets `CARGO_BIN_EXE_*` only for a package's
//! own binaries, but it builds every default member's binaries into the same directory.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

static FAKE_AGENT: LazyLock<PathBuf> = LazyLock::new(|| helper("fake-agent"));
static RELAY_HOST: LazyLock<PathBuf> = LazyLock::new(|| helper("relay-host"));

/// The `fake-agent` binary (link it as `claude`, `codex`, …).
pub fn fake_agent() -> &'static Path {
    &FAKE_AGENT
}

/// The `relay-host` binary.
pub fn relay_host() -> &'static Path {
    &RELAY_HOST
}

fn helper(name: &str) -> PathBuf {
    let runner = Path::new(env!("CARGO_BIN_EXE_agent-runner"));
    let path = runner.with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests from the workspace root with `cargo nextest run` or \
         `cargo test` (they build crates/test-helpers too), or build it with \
         `cargo build -p agent-runner-test-helpers`",
        path.display()
    );
    path
}
