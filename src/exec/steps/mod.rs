//! Running one step, one module per kind: [`shell`] (and `skip_if: sh:` conditions), [`agent`],
//! [`loops`], [`group`], [`sub_workflow`], and [`relay`] for the interactive kinds. Each executor
//! gets a [`StepCtx`], runs its step, reports what happened as events, and returns a [`Report`];
//! none of them sees the runtime. The containers ask the context to run their child list.

pub mod agent;
pub mod group;
pub mod loops;
pub mod relay;
pub mod shell;
pub mod sub_workflow;

use super::error::RunError;
use super::run::{Report, StepCtx};
use crate::workflow::StepKind;

/// Runs the step of `cx` with the executor for its kind.
pub async fn run(cx: &mut StepCtx<'_, '_>) -> Result<Report, RunError> {
    let step = cx.at.step;
    match &step.kind {
        StepKind::Shell(shell) => shell::run(cx, shell).await,
        StepKind::Agent(agent) => agent::run(cx, agent).await,
        StepKind::Loop(looped) => loops::run(cx, looped).await,
        StepKind::Group(children) => group::run(cx, children).await,
        StepKind::SubWorkflow(call) => sub_workflow::run(cx, call).await,
    }
}

/// The id of the first step of a child list (empty for an empty list).
fn first_id(steps: &[crate::workflow::Step]) -> String {
    steps.first().map(|s| s.id.clone()).unwrap_or_default()
}
