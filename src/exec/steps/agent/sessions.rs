//! Which conversation an agent step continues (workflow-format.md §7, runs-and-state.md §5):
//! the step's own saved session when a run is resumed, else what its strategy says — the
//! scope's most recent session (`resume`), a calling scope's (`inherit`), a named session, or
//! the run's `--session` seed — and the model and effort that session was started with.

use super::super::super::context::ScopeRef;
use super::super::super::run::StepCtx;
use crate::agents;
use crate::state::SessionHow;
use crate::workflow::{AgentStep, Effort, SessionStrategy};

/// The conversation a step continues, if any.
#[derive(Debug, Clone)]
pub struct Continue {
    pub cli: String,
    pub id: String,
    pub model: Option<String>,
    pub effort: Option<Effort>,
    /// How it was found, for the `session` audit event.
    pub how: SessionHow,
}

impl Continue {
    /// The run's `--session` seed; its `cli` is empty when the seed names no CLI.
    pub fn is_seed(&self) -> bool {
        self.how == SessionHow::Seed
    }
}

/// What the step's session will be.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub resume: Option<Continue>,
    /// `resume`/`inherit` found nothing: a new session, said so on the console.
    pub nothing_to_resume: bool,
    /// A previous attempt of this step had started this (new) session id, which the CLI never saved.
    pub reuse_new_id: Option<String>,
}

/// Decides the session: a saved one of this step (resume), then the strategy.
pub fn plan_session(cx: &StepCtx<'_, '_>, step: &AgentStep) -> SessionPlan {
    let at = cx.at;
    let mut plan = SessionPlan {
        resume: None,
        nothing_to_resume: false,
        reuse_new_id: None,
    };
    if at.resuming
        && let Some(saved) = cx.frame().and_then(|f| f.agent.clone())
        && let Some(id) = saved.session_id.clone()
        && let Some(adapter) = agents::adapter(&saved.cli)
    {
        let workdir = cx.workdir_root();
        let exists = adapter.session_exists(&id, &workdir, &agents::process_env);
        if exists != Some(false) {
            // The model and effort that session ran with, as recorded when a step last used it,
            // so the continued attempt passes them again (agents.md §1).
            let known = recorded_settings(cx, at.ctx.scope, &id);
            let (model, effort) = known.unwrap_or_default();
            plan.resume = Some(Continue {
                cli: saved.cli,
                id,
                model,
                effort,
                how: SessionHow::Resumed,
            });
            return plan;
        }
        if saved.preassigned && saved.strategy == SessionStrategy::New {
            plan.reuse_new_id = Some(id);
            return plan;
        }
    }
    let found = match &step.session {
        SessionStrategy::New => return plan,
        SessionStrategy::Resume => last_session(cx, at.ctx.scope).or_else(|| seed(cx)),
        SessionStrategy::Inherit => {
            let scopes = calling_scopes(cx);
            scopes
                .into_iter()
                .find_map(|scope| last_session(cx, scope))
                .or_else(|| seed(cx))
        }
        SessionStrategy::Named(name) => cx.doc().named_sessions.get(name).map(|s| Continue {
            cli: s.cli.clone(),
            id: s.session_id.clone(),
            model: s.model.clone(),
            effort: s.effort,
            how: SessionHow::Named,
        }),
    };
    plan.nothing_to_resume = found.is_none()
        && matches!(
            step.session,
            SessionStrategy::Resume | SessionStrategy::Inherit
        );
    plan.resume = found;
    plan
}

/// The model and effort recorded for session `id`: by the scope's most recent session, or by a
/// named session.
fn recorded_settings(
    cx: &StepCtx<'_, '_>,
    scope: ScopeRef,
    id: &str,
) -> Option<(Option<String>, Option<Effort>)> {
    if let Some(last) = cx.scope(scope).and_then(|s| s.last_session.clone())
        && last.session_id == id
    {
        return Some((last.model.clone(), last.effort));
    }
    cx.doc()
        .named_sessions
        .values()
        .find(|s| s.session_id == id)
        .map(|s| (s.model.clone(), s.effort))
}

fn last_session(cx: &StepCtx<'_, '_>, scope: ScopeRef) -> Option<Continue> {
    cx.scope(scope)?.last_session.clone().map(|s| Continue {
        cli: s.cli,
        id: s.session_id,
        model: s.model,
        effort: s.effort,
        how: SessionHow::Resumed,
    })
}

fn seed(cx: &StepCtx<'_, '_>) -> Option<Continue> {
    let seed = cx.doc().seed_session.clone()?;
    Some(Continue {
        cli: seed.cli.unwrap_or_default(),
        id: seed.id,
        model: None,
        effort: None,
        how: SessionHow::Seed,
    })
}

/// `inherit`: the scopes of the calling workflows, nearest first; in the root scope, the root.
fn calling_scopes(cx: &StepCtx<'_, '_>) -> Vec<ScopeRef> {
    let ScopeRef::SubWorkflow(own) = cx.at.ctx.scope else {
        return vec![ScopeRef::Root];
    };
    let mut scopes = Vec::new();
    for depth in (0..own).rev() {
        if cx.frame_at(depth).is_some_and(|f| f.sub_workflow.is_some()) {
            scopes.push(ScopeRef::SubWorkflow(depth));
        }
    }
    scopes.push(ScopeRef::Root);
    scopes
}
