//! `agent-runner-ui`: the run view's server (`agent-runner ui` starts it). A separate binary so
//! the web server's code and memory stay out of every workflow run.

fn main() {
    let args: Vec<_> = std::env::args_os().collect();
    std::process::exit(agent_runner::run::run_with(args, agent_runner::ui::run));
}
