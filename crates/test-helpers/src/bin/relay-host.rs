//! Test helper: runs one terminal relay around a command, the way an interactive step would, so
//! the relay can be tested inside a real pseudo-terminal before the CLI is wired to it
//! (tests/integration/pty_relay.rs).
//!
//! ```text
//! relay-host [--no-triggers] [--no-hint] [--hint-after MS] [--grace MS] [--transcript PATH]
//!            [--interrupt-after MS]... -- PROGRAM [ARGS...]
//! relay-host continue [--note TEXT]      # the client of `agent-runner step continue`
//! ```
//!
//! `--interrupt-after` calls [`RelayInterrupt::interrupt`] that long after the start, as the
//! runtime does on SIGTERM; repeat it for a second interruption. After the relay ends it prints `relay-outcome: <json>`; a setup error prints
//! `relay-error: <class>: <message>` on stderr and exits 4.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agent_runner::pty::{
    RelayInterrupt, RelaySpec, Triggers, control_socket_path, new_token, run_relay,
};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = if args.first().is_some_and(|a| a == "continue") {
        step_continue(&args[1..])
    } else {
        relay(args)
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("relay-error: {message}");
            ExitCode::from(4)
        }
    }
}

fn step_continue(args: &[OsString]) -> Result<ExitCode, String> {
    let note = match args {
        [] => None,
        [flag, note] if flag == "--note" => Some(note.to_string_lossy().into_owned()),
        _ => return Err("usage: relay-host continue [--note TEXT]".into()),
    };
    let report = agent_runner::pty::step_continue(note.as_deref());
    if report.exit_code == 0 {
        println!("{}", report.message);
    } else {
        eprintln!("{}", report.message);
    }
    Ok(ExitCode::from(u8::try_from(report.exit_code).unwrap_or(1)))
}

fn relay(args: Vec<OsString>) -> Result<ExitCode, String> {
    let mut args = args.into_iter();
    let mut triggers = true;
    let mut hint = true;
    let mut hint_after = Duration::from_secs(3);
    let mut grace = Duration::from_secs(3);
    let mut transcript = None;
    let mut interrupts = Vec::new();
    loop {
        let Some(arg) = args.next() else {
            return Err("missing `-- PROGRAM`".into());
        };
        match arg.to_str().unwrap_or_default() {
            "--" => break,
            "--no-triggers" => triggers = false,
            "--no-hint" => hint = false,
            "--hint-after" => hint_after = millis(args.next())?,
            "--grace" => grace = millis(args.next())?,
            "--transcript" => transcript = args.next().map(PathBuf::from),
            "--interrupt-after" => interrupts.push(millis(args.next())?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let program = args.next().ok_or("missing PROGRAM")?;
    let run_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut spec = RelaySpec::new("relay-host", program);
    spec.args = args.collect();
    spec.idle_hint = hint;
    spec.idle_hint_after = hint_after;
    spec.stop_grace = grace;
    spec.transcript_path = transcript;
    if triggers {
        spec.triggers = Some(Triggers {
            token: new_token().map_err(|e| e.to_string())?,
            control_socket: control_socket_path(run_dir.path()),
        });
    }
    for delay in interrupts {
        let interrupt: RelayInterrupt = spec.interrupt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            interrupt.interrupt();
        });
    }
    let outcome = run_relay(spec).map_err(|e| format!("{}: {e}", e.class()))?;
    let json = serde_json::to_string(&outcome).map_err(|e| e.to_string())?;
    println!("relay-outcome: {json}");
    Ok(ExitCode::SUCCESS)
}

fn millis(value: Option<OsString>) -> Result<Duration, String> {
    value
        .and_then(|v| v.to_str()?.parse().ok())
        .map(Duration::from_millis)
        .ok_or_else(|| "expected milliseconds".into())
}
