//! The testable entry point: parse the arguments, run the command, return the exit code.
//!
//! `main.rs` calls [`run`] and exits with what it returns. Each command lives in its own module;
//! this file only routes and prints errors that happen before a command starts.

use std::ffi::OsString;

use crate::cli::{self, Command, ParseOutcome};
use crate::error::Error;
use crate::exit;

/// Runs agent-runner with these process arguments and returns the exit code.
///
/// `ui` is handed to the `agent-runner-ui` binary ([`crate::ui_launch`]), so that the web
/// server's code is not linked into the binary that runs workflows (it would cost every run
/// about 1 MiB of resident memory).
pub fn run(args: Vec<OsString>) -> i32 {
    run_with(args, crate::ui_launch::exec_ui_binary)
}

/// [`run`], with `ui` served by `ui`: the `agent-runner-ui` binary passes the server itself.
pub fn run_with(args: Vec<OsString>, ui: fn(&crate::cli::UiRequest) -> i32) -> i32 {
    init_debug_log();
    let invocation = match cli::parse(args) {
        ParseOutcome::Invocation(invocation) => *invocation,
        ParseOutcome::Help(text) => {
            crate::console::print_stdout(&text);
            return exit::SUCCESS;
        }
        ParseOutcome::Usage(message) => return Error::Usage(message).report(),
    };
    for warning in &invocation.warnings {
        crate::console::warning(warning);
    }
    if let Some(dir) = &invocation.global.dir
        && let Err(source) = std::env::set_current_dir(dir)
    {
        let dir = dir.clone();
        return Error::ChangeDir { dir, source }.report();
    }
    match invocation.command {
        Command::Version => {
            crate::console::print_stdout(&format!("agent-runner {}\n", env!("CARGO_PKG_VERSION")));
            exit::SUCCESS
        }
        Command::Schema => crate::commands::schema::run(),
        Command::Workflows { all } => {
            let project = match project() {
                Ok(project) => project,
                Err(err) => return err.report(),
            };
            crate::commands::workflows::run(invocation.global.json, all, &project)
        }
        Command::Migrate { dir, write } => {
            let project = match project() {
                Ok(project) => project,
                Err(err) => return err.report(),
            };
            crate::compat::migrate::run(&project, dir.as_deref(), write)
        }
        Command::Validate { targets } => {
            let project = match project() {
                Ok(project) => project,
                Err(err) => return err.report(),
            };
            crate::commands::validate::run(&targets, invocation.global.json, &project)
        }
        Command::Run(request) => crate::exec::run::start::run_new(request, &invocation.global),
        Command::Resume { run_id, from } => {
            crate::exec::run::start::resume(run_id, from, &invocation.global)
        }
        Command::List { all, limit } => crate::report::list(&invocation.global, all, limit),
        Command::Show { run_id } => crate::report::show(&invocation.global, run_id.as_deref()),
        Command::Log { run_id, follow } => {
            crate::report::log(&invocation.global, run_id.as_deref(), follow)
        }
        Command::Ui(request) => ui(&request),
        Command::WorktreesList => crate::worktree::command::list(invocation.global.json),
        Command::WorktreesPrune { run_id, force } => {
            crate::worktree::command::prune(&run_id, force)
        }
        Command::K8s(request) => match std::env::current_dir() {
            Ok(dir) => crate::k8s::run(&request, &dir),
            Err(err) => Error::CurrentDir(err).report(),
        },
        Command::StepContinue { note } => {
            let report = crate::pty::step_continue(note.as_deref());
            if report.exit_code == exit::SUCCESS {
                crate::console::print_stdout(&format!("{}\n", report.message));
            } else {
                crate::console::eprint_line(&report.message);
            }
            report.exit_code
        }
    }
}

/// The project: the current directory (after `-C`) and the user dirs from the environment.
fn project() -> Result<crate::workflow::resolve::Project, Error> {
    let dir = std::env::current_dir().map_err(Error::CurrentDir)?;
    Ok(crate::workflow::resolve::Project::from_env(dir))
}

/// Internal debug logs on stderr, filtered by `AGENT_RUNNER_LOG` (e.g. `debug`,
/// `agent_runner::exec=trace`). Nothing is set up when the variable is absent.
fn init_debug_log() {
    let Some(filter) = std::env::var_os("AGENT_RUNNER_LOG") else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::new(filter.to_string_lossy());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::console::RedactedStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}
