//! [`EngineError`]: why an engine could not be found or attached. These are the fatal errors
//! (exit 3 at run start, a step failure at sub-workflow entry); a hook that fails later is not an
//! error of this kind but a [`HookOutcome`](super::HookOutcome).

use thiserror::Error;

use crate::workflow::Diagnostic;

#[derive(Debug, Clone, Error)]
pub enum EngineError {
    /// No engine file of that name in the project, the user dir or the built-ins.
    #[error("unknown engine \"{kind}\"{hint}; available: {available}")]
    Unknown {
        kind: String,
        hint: String,
        available: String,
    },
    /// The engine file has errors; `diagnostics` are the ones `--validate` would print.
    #[error(
        "engine file {file} is invalid ({} error(s)); run agent-runner --validate {file}",
        diagnostics.iter().filter(|d| d.is_error()).count()
    )]
    Invalid {
        file: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// The workflow's `engine:` block does not fit the engine's `options`.
    #[error("{0}")]
    Option(String),
    /// A `vars` template failed to render.
    #[error("engine {engine}: cannot compute var \"{var}\": {message}")]
    Var {
        engine: String,
        var: String,
        message: String,
    },
    /// A `checks` template rendered a non-empty message (several are joined with "; ").
    #[error("engine {engine}: {message}")]
    Check { engine: String, message: String },
}
