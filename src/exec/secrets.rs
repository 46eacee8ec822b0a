//! Which values of a run are secret, and the one redactor that hides them (runs-and-state.md §8).
//!
//! A run builds one [`Redactor`] from its `secret: true` params, the secret-looking environment and
//! the `redact` config key, and installs it as the console's ([`crate::console::secrets`]). The
//! audit writer and every output file hold clones of it. When a sub-workflow starts, the values of
//! its own `secret: true` params are added to that same redactor (every clone sees them) and to
//! `sub_secrets` in state.json, so that `show`, `log` and a resume hide them too.

use crate::config::Config;
use crate::state::{Redactor, StateError, StringMap};
use crate::workflow::Workflow;

use super::dispatcher::{Dispatcher, Fatal};

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
) -> Result<Redactor, Fatal> {
    let redactor =
        Redactor::from_process_env(secrets, config.redact.as_deref().unwrap_or_default())
            .map_err(|err: StateError| Fatal::new(err.exit_code(), err.to_string()))?;
    crate::state::secrets::install(&redactor);
    Ok(redactor)
}

impl Dispatcher {
    /// Hides the secret params of a sub-workflow that starts (or resumes) with `params`
    /// everywhere from now on, and records them for `show`, `log` and resume.
    pub fn declare_secrets(&mut self, workflow: &Workflow, params: &StringMap) {
        let values = secret_values(workflow, params);
        let mut added = false;
        for value in values {
            if !self.doc.sub_secrets.iter().any(|known| known == value) {
                self.doc.sub_secrets.push(value.to_owned());
                added = true;
            }
        }
        if added && let Err(err) = self.redactor.add_secrets(&self.doc.sub_secrets) {
            // Only a value too large for the regex engine gets here; say so rather than show it.
            self.console
                .warning(&format!("cannot redact a sub-workflow secret: {err}"));
        }
    }
}
