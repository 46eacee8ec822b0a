//! Thin entry point: everything else lives in the library (see `agent_runner::run`).

use agent_runner::exec::process::{guard, watchdog};

fn main() {
    let args: Vec<_> = std::env::args_os().collect();
    if args.len() == 3 && args[1] == guard::WATCHDOG_ARG {
        std::process::exit(watchdog::watchdog_main(&args[2].to_string_lossy()));
    }
    if let Ok(exe) = std::env::current_exe() {
        guard::install(exe);
    }
    let code = agent_runner::run::run(args);
    std::process::exit(code);
}
