//! Which values of a run are secret, and the one redactor that hides them (runs-and-state.md §8).
//!
//! A run builds one [`Redactor`] from its `secret: true` params, the secret-looking environment and
//! the `redact` config key, and installs it as the console's ([`crate::console::secrets`]). The
//! audit writer and every output file hold clones of it. When a sub-workflow starts, the values of
//! its own `secret: true` params are reported ([`super::run::Event::SecretsDeclared`]) and the
//! run's writer adds them to that same redactor (every clone sees them) and to `sub_secrets` in
//! state.json, so that `show`, `log` and a resume hide them too.

use crate::config::Config;
use crate::state::{Redactor, StateError, StringMap};
use crate::workflow::Workflow;

use super::error::RunError;

/// The values of `params` that `workflow` declares `secret: true`.
pub fn secret_values<'a>(workflow: &'a Workflow, params: &'a StringMap) -> Vec<&'a str> {
    workflow
        .params
        .iter()
        .filter(|p| p.secret)
        .filter_map(|p| params.get(&p.name).map(String::as_str))
        .collect()
}

/// The redactor of a run (or a dry run) hiding `secrets`, installed for the console.
pub fn install_redactor<S: AsRef<str>>(
    secrets: impl IntoIterator<Item = S>,
    config: &Config,
) -> Result<Redactor, RunError> {
    let redactor =
        Redactor::from_process_env(secrets, config.redact.as_deref().unwrap_or_default())
            .map_err(|err: StateError| RunError::State(err))?;
    crate::state::secrets::install(&redactor);
    Ok(redactor)
}
