//! Reopening a step that an engine's `validate_step` rejected (engines.md §4): on a terminal the
//! user chooses between reopening it interactively and stopping the run.

use std::io::{BufRead, IsTerminal, Write};

use super::super::super::outcome::Failure;
use crate::workflow::{AgentMode, AgentStep, SessionStrategy, Step, StepKind, Template};

/// Asks `[r] reopen / [e] exit` when stdin and stdout are terminals; `false` without one.
pub fn wants_reopen(step: &Step, failure: &Failure) -> bool {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return false;
    }
    let (engine, message) = split_message(&failure.message);
    let prompt = format!(
        "agent-runner: engine {engine}: step \"{}\" is not complete: {message}\n  [r] reopen the step interactively to finish it\n  [e] exit now (the run can be resumed later)\nchoice [r/e]: ",
        step.id
    );
    loop {
        crate::console::spinner::clear();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(prompt.as_bytes()).and_then(|()| err.flush());
        drop(err);
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer).unwrap_or(0) == 0 {
            return false;
        }
        match answer.trim() {
            "r" | "R" => return true,
            "e" | "E" => return false,
            _ => {}
        }
    }
}

/// `engine <name> rejected the step: <message>` → (`<name>`, `<message>`).
fn split_message(text: &str) -> (&str, &str) {
    text.strip_prefix("engine ")
        .and_then(|rest| rest.split_once(" rejected the step: "))
        .unwrap_or(("?", text))
}

/// The same step, as an interactive session that continues its conversation with a prompt that
/// says what is missing.
pub fn reopen_step(step: &Step, failure: &Failure) -> Step {
    let (_, message) = split_message(&failure.message);
    // The message is literal text: escape template syntax.
    let prompt = format!("This step is not complete yet: {message}. Please finish it.")
        .replace("{{", "\\{{");
    let (workdir, env) = match &step.kind {
        StepKind::Agent(agent) => (agent.workdir.clone(), agent.env.clone()),
        _ => (None, Vec::new()),
    };
    Step {
        kind: StepKind::Agent(Box::new(AgentStep {
            mode: AgentMode::Interactive,
            prompt: Template::new(prompt),
            session: SessionStrategy::Resume,
            cli: None,
            model: None,
            effort: None,
            agent: None,
            permissions: None,
            capture: None,
            output: None,
            workdir,
            env,
        })),
        ..step.clone()
    }
}
