//! The process's redactor: the one path every sink of a run goes through (runs-and-state.md §8).
//!
//! The console ([`crate::console::print_stdout`] and [`crate::console::eprint_line`], the only
//! ways the runner prints) and the output files ([`crate::exec::files`]) pass their text through
//! [`redact`] here, so no heading, detail, failure line, plan line, report or output file can
//! show a secret in clear, whichever code produced it; the audit writer holds a clone of the same
//! redactor. A run installs its own (secret params, the `redact` config key; the secrets of
//! sub-workflows are added to it as they start); `--dry-run`, `show` and `log` install the one of
//! the workflow or run they print. Until then the token shapes and the secret-named environment
//! values are hidden.

use std::borrow::Cow;
use std::sync::{LazyLock, PoisonError, RwLock};

use super::Redactor;

static INSTALLED: RwLock<Option<Redactor>> = RwLock::new(None);

/// Token shapes and the runner's secret-named environment values, used until a redactor is
/// installed. `None` only if even that cannot be compiled (an environment value too large for
/// the regex engine), in which case the token shapes are tried alone.
static DEFAULT: LazyLock<Option<Redactor>> = LazyLock::new(|| {
    Redactor::from_process_env(std::iter::empty::<&str>(), &[])
        .or_else(|_| Redactor::token_shapes_only())
        .ok()
});

/// Makes `redactor` (or a clone sharing its secrets) the one the console applies from now on.
pub fn install(redactor: &Redactor) {
    *INSTALLED.write().unwrap_or_else(PoisonError::into_inner) = Some(redactor.clone());
}

/// `text` as the console may show it.
pub fn redact(text: &str) -> Cow<'_, str> {
    let installed = INSTALLED.read().unwrap_or_else(PoisonError::into_inner);
    match installed.as_ref().or(DEFAULT.as_ref()) {
        Some(redactor) => redactor.redact(text),
        None => Cow::Borrowed(text),
    }
}

/// The redactor [`redact`] applies (the installed one, else the default).
pub fn active() -> Option<Redactor> {
    let installed = INSTALLED.read().unwrap_or_else(PoisonError::into_inner);
    installed.as_ref().or(DEFAULT.as_ref()).cloned()
}
