//! The program's errors by layer, and the one top-level [`Error`] that knows its exit code
//! (cli.md §8): a usage mistake on the command line, a run that could not start or had to stop
//! ([`RunError`]), or a report command that could not read a run ([`ReportError`]). A failed
//! step is not an error of the program: its [`ErrorClass`] decides the exit code of the run.

mod class;

pub use class::ErrorClass;

pub use crate::exec::error::RunError;
use crate::exit;
pub use crate::report::ReportError;

/// Everything that ends the program with a non-zero exit code before or outside a run's own
/// outcome.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong (the message says how).
    #[error("{0}")]
    Usage(String),
    /// `-C <dir>` cannot be entered.
    #[error("cannot change to directory \"{}\": {source}", dir.display())]
    ChangeDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The current directory cannot be read.
    #[error("cannot read the current directory: {0}")]
    CurrentDir(#[source] std::io::Error),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl Error {
    /// The exit code the program ends with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::ChangeDir { .. } => exit::USAGE,
            Error::CurrentDir(_) => exit::RUNTIME,
            Error::Run(err) => err.exit_code(),
            Error::Report(err) => err.exit_code(),
        }
    }

    /// Prints the error (unless its diagnostics were printed already) and returns the exit code.
    pub fn report(&self) -> i32 {
        let message = self.to_string();
        if !message.is_empty() {
            crate::console::error(&message);
        }
        self.exit_code()
    }
}
