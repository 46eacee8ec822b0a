//! Conditions on the runtime's side (control.md §6): `when:` before a step, an expression
//! `break_if:` after it, and the record of how each step ended that `steps.<id>` reads.
//!
//! `when` is checked when the step is reached, before `skip_if`; false skips the step (audit
//! reason `when`, with the expression). A step that a resume re-enters is not checked again
//! (the walker does not call this for it). The results of steps are kept in the scope only for
//! files whose conditions read `steps` (see [`ListCtx::records_steps`]).

use std::collections::BTreeMap;

use super::super::condition::{CondScope, RunTotals, evaluate};
use super::super::context::ListCtx;
use super::super::error::RunError;
use super::super::outcome::{End, ErrorClass, Failure};
use super::event::Event;
use super::step::At;
use super::walk::Runtime;
use crate::state::{Skip, SkipReason, StepEnd, StepResult};
use crate::workflow::{BreakIf, Condition, StepKind};

impl Runtime {
    /// Evaluates `condition` (the step's `field`) in the scope of `ctx`.
    fn evaluate(&self, ctx: &ListCtx, condition: &Condition, field: &str) -> Result<bool, Failure> {
        let writer = self.shared_writer();
        let doc = writer.doc();
        let empty = BTreeMap::new();
        let empty_steps = BTreeMap::new();
        let no_captures = crate::state::Captures::new();
        let forks = &self.branch.forks;
        let captures = writer.captures_in(forks, ctx.scope);
        let steps = writer.steps_in(forks, ctx.scope);
        let params = super::walk::scope_params(&writer, forks, ctx);
        let usage = writer.usage();
        let scope = CondScope {
            params: params.unwrap_or(&empty),
            captures: captures.as_deref().unwrap_or(&no_captures),
            capture_names: &ctx.capture_names,
            loop_vars: &ctx.loop_vars,
            steps: steps.as_deref().unwrap_or(&empty_steps),
            run: RunTotals {
                id: &doc.run_id,
                cost_usd: usage.cost_usd,
                tokens: usage.input_tokens + usage.cached_input_tokens + usage.output_tokens,
            },
        };
        evaluate(condition, field, &scope).map_err(|failure| match self.settings.simulate {
            Some(_) if failure.class == ErrorClass::InvalidValue => {
                simulation_hint(failure, ctx, condition)
            }
            _ => failure,
        })
    }

    /// Checks the step's `when`. `Some(Ok(()))` = skipped (events written), `Some(Err(_))` = the
    /// condition failed the step, `None` = go on.
    pub(super) fn check_when(
        &mut self,
        at: &At<'_>,
    ) -> Result<Option<Result<(), Failure>>, RunError> {
        let Some(condition) = &at.step.when else {
            return Ok(None);
        };
        match self.evaluate(at.ctx, condition, "when") {
            Ok(true) => Ok(None),
            Ok(false) => {
                self.emit(Event::Skipped {
                    display: at.display.to_owned(),
                    path: at.audit_path.to_owned(),
                    reason: format!("when: {}", condition.text()),
                    skip: Skip {
                        expression: Some(condition.text().to_owned()),
                        ..Skip::because(SkipReason::When)
                    },
                    leaf: matches!(at.step.kind, StepKind::Shell(_) | StepKind::Agent(_)),
                })?;
                self.record_skipped(at)?;
                Ok(Some(Ok(())))
            }
            Err(failure) => Ok(Some(Err(failure))),
        }
    }

    /// Whether the step's `break_if` holds for how it ended; an expression that cannot be
    /// evaluated fails the step.
    pub(super) fn break_if_holds(&self, at: &At<'_>, end: &End) -> Result<bool, Failure> {
        Ok(match (&at.step.break_if, end) {
            (Some(BreakIf::Success), End::Success) | (Some(BreakIf::Failure), End::Failed(_)) => {
                true
            }
            (Some(BreakIf::When(condition)), End::Success | End::Failed(_)) => {
                self.evaluate(at.ctx, condition, "break_if")?
            }
            _ => false,
        })
    }

    /// Keeps how a step ended for `steps.<id>`, when its file's conditions read it.
    pub(super) fn record_result(
        &mut self,
        at: &At<'_>,
        end: &End,
        record: &StepEnd,
    ) -> Result<(), RunError> {
        if !at.ctx.records_steps {
            return Ok(());
        }
        let (outcome, class) = match end {
            End::Success | End::Break => ("success", None),
            End::Failed(failure) => ("failed", Some(failure.class)),
            End::Interrupted => return Ok(()),
        };
        let cost = record
            .cost_usd
            .flatten()
            .and_then(serde_json::Number::from_f64);
        self.emit(Event::StepResult {
            scope: at.ctx.scope,
            id: at.step.id.clone(),
            result: StepResult {
                outcome: outcome.to_owned(),
                exit_code: record.exit_code.flatten(),
                class,
                duration_ms: record.duration_ms.unwrap_or(0),
                cost_usd: cost,
            },
        })
    }

    /// Keeps that a step was skipped, for `steps.<id>`.
    pub(super) fn record_skipped(&mut self, at: &At<'_>) -> Result<(), RunError> {
        if !at.ctx.records_steps {
            return Ok(());
        }
        self.emit(Event::StepResult {
            scope: at.ctx.scope,
            id: at.step.id.clone(),
            result: StepResult {
                outcome: "skipped".to_owned(),
                ..StepResult::default()
            },
        })
    }
}

/// A condition that cannot be evaluated in a simulation most often reads the answer of a step
/// that had no stub (`ok`, or its schema's minimal value): the failure says so, and which steps
/// to stub.
fn simulation_hint(mut failure: Failure, ctx: &ListCtx, condition: &Condition) -> Failure {
    let read: Vec<&str> = condition.uses().names().collect();
    let mut steps: Vec<&str> = Vec::new();
    for step in ctx.workflow.walk() {
        if step.capture().is_some_and(|name| read.contains(&name))
            && !steps.contains(&step.id.as_str())
        {
            steps.push(&step.id);
        }
    }
    let reads = match steps.as_slice() {
        [] => "stub the steps whose answers it reads".to_owned(),
        ids => format!(
            "stub {}",
            ids.iter()
                .map(|id| format!("\"{id}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let example = steps.first().copied().unwrap_or("<step>");
    failure.message.push_str(&format!(
        "; in a simulation a step without a stub answers \"ok\" (or its schema's minimal value): {reads}, e.g. --stub {example}='{{...}}'"
    ));
    failure
}
