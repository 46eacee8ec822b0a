//! Agent steps. One attempt's life is [`plan`] (session and settings, the agent frame) →
//! [`start`] (prompt, invocation, `step_start`, environment) → run ([`stream`] for headless
//! steps, the terminal [`super::relay`] for interactive ones) → [`record`] (session, outcome,
//! capture, usage). [`sessions`] decides which conversation a step continues, [`settings`]
//! which CLI, model, effort and permissions it runs with, and [`reopen`] offers to reopen a step
//! an engine rejected.

pub mod plan;
pub mod record;
pub mod reopen;
pub mod sessions;
pub mod settings;
pub mod start;
pub mod stream;

use super::super::engines;
use super::super::error::RunError;
use super::super::outcome::End;
use super::super::run::{At, Report, StepCtx};
use crate::workflow::{AgentMode, AgentStep, SessionStrategy, StepKind};

/// Runs an agent step; in a scope with an engine, a successful step must also pass the engine's
/// `validate_step`. A rejected step fails, or, on a terminal, the user may reopen it as an
/// interactive session that continues the step's conversation until the check passes.
pub async fn run(cx: &mut StepCtx<'_, '_>, step: &AgentStep) -> Result<Report, RunError> {
    let mut report = run_once(cx, step).await?;
    let at = cx.at;
    loop {
        if !matches!(report.end, End::Success) || at.ctx.engine.is_none() {
            return Ok(report);
        }
        let Some(agent) = cx.frame().and_then(|f| f.agent.clone()) else {
            return Ok(report);
        };
        let continues = agent.strategy != SessionStrategy::New;
        let failure = match engines::check_step(cx, at.step, &agent.cli, continues)? {
            Ok(()) => return Ok(report),
            Err(failure) => failure,
        };
        if !reopen::wants_reopen(at.step, &failure) {
            report.end = End::Failed(failure);
            return Ok(report);
        }
        let reopened = reopen::reopen_step(at.step, &failure);
        let reopen_at = At {
            step: &reopened,
            resuming: false,
            ..*at
        };
        let StepKind::Agent(reopen_agent) = &reopened.kind else {
            return Ok(report);
        };
        report = run_once(&mut cx.with_step(&reopen_at), reopen_agent).await?;
    }
}

/// One attempt: plan → start → run → record.
async fn run_once(cx: &mut StepCtx<'_, '_>, step: &AgentStep) -> Result<Report, RunError> {
    let plan = match plan::plan(cx, step)? {
        Ok(plan) => plan,
        Err(unplanned) => {
            cx.start(&unplanned.label, Default::default())?;
            return Ok(Report::failed(unplanned.failure));
        }
    };
    // A slot of the configuration's agent caps (control.md §8), before the step starts: the
    // wait is not part of the step's time, nor of its timeout.
    let Some(_launcher_slot) = super::shell::launcher_slot(cx, plan.target.as_ref()).await? else {
        cx.start(&plan.label, Default::default())?;
        return Ok(Report::new(End::Interrupted));
    };
    let Some(_slot) = cx.agent_slot(&plan.resolved.cli).await? else {
        cx.start(&plan.label, Default::default())?;
        return Ok(Report::new(End::Interrupted));
    };
    let launch = match start::start(cx, step, &plan)? {
        Ok(launch) => launch,
        Err(failure) => return Ok(Report::failed(failure)),
    };
    match step.mode {
        AgentMode::Headless => stream::run(cx, step, &plan, launch).await,
        AgentMode::Interactive => {
            let start::Launch {
                invocation,
                spec,
                mut env,
                stem,
            } = launch;
            let (report, session_id) =
                super::relay::run_agent(cx, &plan, &invocation, spec, &mut env, &stem).await?;
            record::keep_session(cx, step, &plan, session_id, report)
        }
    }
}
