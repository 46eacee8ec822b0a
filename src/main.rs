//! Thin entry point: everything else lives in the library.

fn main() {
    std::process::exit(agent_runner::exit::SUCCESS);
}
