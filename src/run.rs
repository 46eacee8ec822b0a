//! The testable entry point: parse the arguments, run the command, return the exit code.
//!
//! `main.rs` calls [`run`] and exits with what it returns. Each command lives in its own module;
//! this file only routes and prints errors that happen before a command starts.

use std::ffi::OsString;

use crate::cli::{self, Command, ParseOutcome};
use crate::exit;

/// Runs agent-runner with these process arguments and returns the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    let invocation = match cli::parse(args) {
        ParseOutcome::Invocation(invocation) => invocation,
        ParseOutcome::Help(text) => {
            crate::console::print_stdout(&text);
            return exit::SUCCESS;
        }
        ParseOutcome::Usage(message) => {
            crate::console::error(&message);
            return exit::USAGE;
        }
    };
    for warning in &invocation.warnings {
        crate::console::warning(warning);
    }
    if let Some(dir) = &invocation.global.dir
        && let Err(err) = std::env::set_current_dir(dir)
    {
        crate::console::error(&format!(
            "cannot change to directory \"{}\": {err}",
            dir.display()
        ));
        return exit::USAGE;
    }
    match invocation.command {
        Command::Version => {
            crate::console::print_stdout(&format!("agent-runner {}\n", env!("CARGO_PKG_VERSION")));
            exit::SUCCESS
        }
        Command::List { all, limit } => crate::report::list(&invocation.global, all, limit),
        Command::Show { run_id } => crate::report::show(&invocation.global, run_id.as_deref()),
        Command::Log { run_id, follow } => {
            crate::report::log(&invocation.global, run_id.as_deref(), follow)
        }
        other => {
            crate::console::error(&format!("{other:?} is not available in this build yet"));
            exit::USAGE
        }
    }
}
