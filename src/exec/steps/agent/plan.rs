//! An agent step's plan: which conversation it continues, which CLI, model, effort and
//! permissions it runs with, and the session it asks the CLI for. Nothing runs and nothing is
//! written here except the step's agent frame, so a crash from here on can continue the session.

use super::super::super::error::RunError;
use super::super::super::labels::{agent_label, kind_label};
use super::super::super::outcome::{ErrorClass, Failure};
use super::super::super::run::{Event, StepCtx};
use super::sessions::{Continue, SessionPlan, plan_session};
use super::settings::{Layers, Recorded, Resolved};
use crate::agents::{self, Adapter, SessionRequest};
use crate::config::Config;
use crate::state::AgentFrame;
use crate::workflow::{AgentMode, AgentStep, Template};

/// Everything decided before the step starts.
pub struct Plan {
    pub session: SessionPlan,
    pub resolved: Resolved,
    pub adapter: &'static dyn Adapter,
    pub config: Config,
    /// The heading label: `headless claude/opus, session new`.
    pub label: String,
    pub request: SessionRequest,
    /// The session id known before the CLI starts (resumed or pre-assigned).
    pub known_id: Option<String>,
    /// The CLI supports this mode (and resuming in it, when the step resumes).
    pub mode_ok: bool,
    /// The launcher the CLI runs through (docs/launchers.md).
    pub target: Option<crate::exec::launch::Target>,
}

/// A step that cannot be planned fails with this heading label.
pub struct Unplanned {
    pub label: String,
    pub failure: Failure,
}

/// Decides the session and settings; records the agent frame.
pub fn plan(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
) -> Result<Result<Plan, Unplanned>, RunError> {
    let session = plan_session(cx, step);
    // A `--session` seed does not choose the step's CLI: it applies only when the step resolves
    // to the seed's CLI (any CLI when the seed has no `<cli>:` prefix).
    let recorded = session
        .resume
        .as_ref()
        .filter(|c| !c.is_seed())
        .map(|c| Recorded {
            cli: Some(c.cli.clone()),
            model: c.model.clone(),
            effort: c.effort,
        });
    let config = cx.config();
    let decl = cx.at.ctx.workflow.session_decl(&step.session);
    let layers = Layers {
        step,
        workflow: &cx.at.ctx.workflow,
        config: &config,
        decl,
        recorded: recorded.as_ref(),
    };
    let resolved = {
        let mut render = |t: &Template| cx.render(t).map_err(|f| f.message);
        layers.resolve(&mut render)
    };
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(message) => {
            return Ok(Err(Unplanned {
                label: kind_label(cx.at.step),
                failure: Failure::new(ErrorClass::CliError, message),
            }));
        }
    };
    let label = agent_label(step, &resolved.cli, resolved.model.as_deref());
    let Some(adapter) = agents::adapter(&resolved.cli) else {
        let message = format!("unknown cli \"{}\"", resolved.cli);
        return Ok(Err(Unplanned {
            label,
            failure: Failure::new(ErrorClass::CliError, message),
        }));
    };
    // A resumed session stays on its own CLI; a different one cannot continue it.
    let session = match session.resume {
        Some(c) if c.is_seed() && c.cli.is_empty() => SessionPlan {
            resume: Some(Continue {
                cli: resolved.cli.clone(),
                ..c
            }),
            ..session
        },
        Some(c) if c.cli != resolved.cli => SessionPlan {
            resume: None,
            nothing_to_resume: true,
            ..session
        },
        _ => session,
    };
    let caps = adapter.capabilities();
    let mode_ok = match step.mode {
        AgentMode::Headless => caps.headless && (session.resume.is_none() || caps.resume_headless),
        AgentMode::Interactive => {
            caps.interactive && (session.resume.is_none() || caps.resume_interactive)
        }
    };
    let request = match (&session.resume, &session.reuse_new_id) {
        (Some(c), _) => SessionRequest::Resume { id: c.id.clone() },
        (None, Some(id)) => SessionRequest::New {
            preassigned: Some(id.clone()),
        },
        (None, None) if caps.preassigned_session_id => SessionRequest::New {
            preassigned: Some(agents::new_session_id().map_err(RunError::SessionId)?),
        },
        (None, None) => SessionRequest::New { preassigned: None },
    };
    let known_id = match &request {
        SessionRequest::Resume { id } => Some(id.clone()),
        SessionRequest::New { preassigned } => preassigned.clone(),
    };
    cx.emit(Event::AgentPlanned {
        depth: cx.at.ctx.depth,
        agent: AgentFrame {
            cli: resolved.cli.clone(),
            strategy: step.session.clone(),
            session_id: known_id.clone(),
            preassigned: matches!(
                &request,
                SessionRequest::New {
                    preassigned: Some(_)
                }
            ),
        },
    })?;
    let target = match crate::exec::launch::target(cx, resolved.launcher.as_ref()) {
        Ok(target) => target,
        Err(failure) => return Ok(Err(Unplanned { label, failure })),
    };
    Ok(Ok(Plan {
        session,
        resolved,
        adapter,
        config,
        label,
        request,
        known_id,
        mode_ok,
        target,
    }))
}
