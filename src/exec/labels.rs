//! Kind labels in headings and plans: `shell`, `group`, `loop x3`,
//! `headless codex/gpt-5-codex, session new` (cli.md §6).

use crate::workflow::{AgentStep, LoopKind, LoopMax, Step, StepKind};

/// The label of a step when nothing has been resolved at run time (the CLI may be unknown).
pub fn kind_label(step: &Step) -> String {
    match &step.kind {
        StepKind::Shell(shell) if shell.interactive => "interactive shell".to_owned(),
        StepKind::Shell(_) => "shell".to_owned(),
        StepKind::Group(_) => "group".to_owned(),
        StepKind::SubWorkflow(_) => "sub-workflow".to_owned(),
        StepKind::Loop(looped) => match &looped.kind {
            LoopKind::Counted {
                max: LoopMax::Fixed(n),
            } => format!("loop x{n}"),
            LoopKind::Counted {
                max: LoopMax::Template(t),
            } => format!("loop x{}", t.text()),
            LoopKind::ForEach { .. } => "for-each".to_owned(),
        },
        StepKind::Agent(agent) => agent_label(agent, agent.cli.as_deref().unwrap_or("?"), None),
    }
}

/// `<mode> <cli>[/<model>], session <strategy>`
pub fn agent_label(agent: &AgentStep, cli: &str, model: Option<&str>) -> String {
    let mut label = format!("{} {cli}", agent.mode.as_str());
    if let Some(model) = model {
        label.push('/');
        label.push_str(model);
    }
    label.push_str(&format!(", session {}", agent.session));
    label
}
