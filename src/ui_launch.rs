//! Starting `agent-runner ui`: the run view lives in its own binary, `agent-runner-ui`, installed
//! beside `agent-runner`, so the web server is never loaded by a run of a workflow.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::cli::UiRequest;
use crate::console;
use crate::exit;

/// The file name of the run-view binary.
pub const UI_BINARY: &str = "agent-runner-ui";

/// Replaces this process with `agent-runner-ui ui …` (same directory, same request); returns
/// only when that cannot start, with exit code 4.
pub fn exec_ui_binary(request: &UiRequest) -> i32 {
    let binary = ui_binary();
    let error = Command::new(&binary).args(ui_args(request)).exec();
    console::error(&format!(
        "cannot start {} ({error}); it is installed beside agent-runner by `cargo install`",
        binary.display()
    ));
    exit::RUNTIME
}

/// `agent-runner-ui` next to the running executable, else the one on `PATH`.
fn ui_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(UI_BINARY)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(UI_BINARY))
}

/// The arguments that give the other binary the same request. The working directory (after
/// `-C`) is inherited, so relative paths keep their meaning.
fn ui_args(request: &UiRequest) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "ui".into(),
        "--port".into(),
        request.port.to_string().into(),
        "--bind".into(),
        request.bind.clone().into(),
    ];
    if let Some(file) = &request.token_file {
        args.push("--token-file".into());
        args.push(file.clone().into_os_string());
    }
    if request.all {
        args.push("--all".into());
    }
    if request.open {
        args.push("--open".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{self, Command as CliCommand, ParseOutcome};

    #[test]
    fn the_other_binary_parses_the_same_request() {
        let request = UiRequest {
            port: 0,
            bind: "127.0.0.1".into(),
            token_file: Some(PathBuf::from("tok en")),
            all: true,
            open: true,
        };
        let mut args: Vec<OsString> = vec![UI_BINARY.into()];
        args.extend(ui_args(&request));
        match cli::parse(args) {
            ParseOutcome::Invocation(inv) => assert_eq!(inv.command, CliCommand::Ui(request)),
            other => panic!("not an invocation: {other:?}"),
        }
    }
}
