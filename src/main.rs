//! Thin entry point: everything else lives in the library (see `agent_runner::run`).

fn main() {
    let code = agent_runner::run::run(std::env::args_os().collect());
    std::process::exit(code);
}
