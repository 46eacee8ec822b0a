//! One step's life on the runtime's side: hand the step to the executor for its kind, then
//! record how it ended and apply flow control (`continue_on_failure`, `break_if`).

use std::time::Instant;

use super::super::context::ListCtx;
use super::super::error::RunError;
use super::super::outcome::{End, Failure};
use super::StepCtx;
use super::event::{EndLine, Event};
use super::walk::Runtime;
use crate::state::{FailureRecord, LastFailure, Outcome, StepEnd, StepKindName, StepOutcome};
use crate::workflow::{Step, StepKind};

/// What an executor reports besides how the step ended: its `step_end` record and, for agent
/// steps, the usage text for the console end line.
#[derive(Debug)]
pub struct Report {
    pub end: End,
    pub record: StepEnd,
    pub usage_text: Option<String>,
}

impl Report {
    pub fn new(end: End) -> Self {
        Report {
            end,
            record: StepEnd::default(),
            usage_text: None,
        }
    }

    pub fn failed(failure: Failure) -> Self {
        Report::new(End::Failed(failure))
    }
}

/// Where a step is, for the executors.
pub struct At<'a> {
    pub ctx: &'a ListCtx,
    pub steps: &'a [Step],
    pub index: usize,
    pub step: &'a Step,
    pub display: &'a str,
    pub audit_path: &'a str,
    /// The step had started before (a resumed run continues it, a retried one too).
    pub resuming: bool,
    /// The failure of the previous try of a retried step (its agent continues with it said).
    pub previous_failure: Option<&'a Failure>,
}

impl Runtime {
    /// Runs the step with the executor for its kind.
    pub(super) async fn run_step(&mut self, at: &At<'_>) -> Result<Report, RunError> {
        if let Some(limit) = super::deadline::container_limit(at.step) {
            return self.run_within(at, limit).await;
        }
        let mut cx = StepCtx::new(self, at);
        super::super::steps::run(&mut cx).await
    }

    /// Records how a step ended and applies flow control. `Some(end)` ends the list.
    pub(super) fn finish_step(
        &mut self,
        at: &At<'_>,
        report: Report,
        started: Instant,
    ) -> Result<Option<End>, RunError> {
        let Report {
            mut end,
            mut record,
            usage_text,
        } = report;
        let duration = started.elapsed();
        let leaf = matches!(at.step.kind, StepKind::Shell(_) | StepKind::Agent(_));
        record.duration_ms = Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        self.record_result(at, &end, &record)?;
        // A `break_if` expression that cannot be evaluated fails the step.
        let step_breaks = match self.break_if_holds(at, &end) {
            Ok(holds) => holds,
            Err(failure) => {
                end = End::Failed(failure);
                false
            }
        };
        // An exceeded budget ends the run whatever the step says (control.md §5).
        let over_budget =
            matches!(&end, End::Failed(f) if f.class == crate::error::ErrorClass::Budget);
        let step_breaks = step_breaks && !over_budget;
        let path = at.audit_path.to_owned();
        let shown = |line: EndLine, message: Option<String>| Event::EndShown {
            line,
            leaf,
            duration,
            usage_text: usage_text.clone(),
            message,
        };
        match end {
            End::Interrupted => {
                self.emit(Event::Interrupted {
                    depth: at.ctx.depth,
                })?;
                record.outcome = Some(StepOutcome::Interrupted);
                self.emit(Event::StepEnded {
                    path,
                    end: Box::new(record),
                })?;
                Ok(Some(End::Interrupted))
            }
            End::Success | End::Break => {
                record.outcome = Some(StepOutcome::Success);
                let propagate = matches!(end, End::Break) || step_breaks;
                if propagate {
                    record.break_triggered = Some(true);
                }
                // The state moves on before `step_end` is written: a crash in between must not
                // leave a recorded success that a resume runs again.
                // The `ok` line comes after the move: the writer holds it until the move is on
                // disk, so a step shown complete is never run again.
                if step_breaks {
                    self.emit(shown(EndLine::Ok, None))?;
                    self.break_loop(at, matched(at.step, "success"))?;
                } else {
                    if !matches!(end, End::Break) {
                        self.advance(at, Some(Outcome::Success))?;
                    }
                    self.emit(shown(EndLine::Ok, None))?;
                }
                self.emit(Event::StepEnded {
                    path,
                    end: Box::new(record),
                })?;
                Ok(propagate.then_some(End::Break))
            }
            End::Failed(mut failure) => {
                record.outcome = Some(StepOutcome::Failed);
                record.error = Some(FailureRecord {
                    class: Some(failure.class),
                    message: Some(failure.message.clone()),
                    reset_at: failure.reset_at.map(crate::state::time::format_rfc3339),
                });
                let message = Some(shown_message(&failure));
                if step_breaks {
                    self.emit(shown(EndLine::Failed { continued: false }, message))?;
                    record.continued = Some(true);
                    self.break_loop(at, matched(at.step, "failure"))?;
                    self.emit(Event::StepEnded {
                        path,
                        end: Box::new(record),
                    })?;
                    return Ok(Some(End::Break));
                }
                if at.step.continue_on_failure && !over_budget {
                    record.continued = Some(true);
                    self.advance(at, Some(Outcome::Failed))?;
                    self.emit(shown(EndLine::Failed { continued: true }, message))?;
                    self.emit(Event::StepEnded {
                        path,
                        end: Box::new(record),
                    })?;
                    return Ok(None);
                }
                self.emit(shown(EndLine::Failed { continued: false }, message))?;
                self.emit(Event::StepEnded {
                    path,
                    end: Box::new(record),
                })?;
                let path = failure
                    .path
                    .get_or_insert_with(|| at.audit_path.to_owned())
                    .clone();
                failure.display.get_or_insert_with(|| at.display.to_owned());
                self.emit(Event::RunFailed {
                    depth: at.ctx.depth,
                    failure: LastFailure {
                        path,
                        class: failure.class,
                        message: failure.message.clone(),
                    },
                })?;
                Ok(Some(End::Failed(failure)))
            }
        }
    }

    /// A `break_if` matched: the nearest enclosing loop of this file ends successfully. The loop
    /// frame remembers it, so a crash right now does not run the step again.
    fn break_loop(&mut self, at: &At<'_>, matched: &str) -> Result<(), RunError> {
        let Some(loop_depth) = at.ctx.loop_depth else {
            return Ok(());
        };
        self.emit(Event::LoopBroken {
            loop_depth,
            matched: matched.to_owned(),
        })
    }
}

/// A failure's message as the console shows it: with its class after it when the class is one
/// of control.md §3 (`rate limited [rate_limit]`).
pub fn shown_message(failure: &Failure) -> String {
    if failure.class.shown() {
        format!("{} [{}]", failure.message, failure.class)
    } else {
        failure.message.clone()
    }
}

/// What the loop-break line says matched: the word, or the expression.
fn matched<'s>(step: &'s Step, word: &'s str) -> &'s str {
    match &step.break_if {
        Some(crate::workflow::BreakIf::When(condition)) => condition.text(),
        _ => word,
    }
}

/// The `kind` of a step in its `step_start` event.
pub fn kind_name(step: &Step) -> StepKindName {
    match &step.kind {
        StepKind::Shell(shell) if shell.interactive => StepKindName::InteractiveShell,
        StepKind::Shell(_) => StepKindName::Shell,
        StepKind::Agent(agent) => match agent.mode {
            crate::workflow::AgentMode::Interactive => StepKindName::Interactive,
            crate::workflow::AgentMode::Headless => StepKindName::Headless,
        },
        StepKind::Loop(_) => StepKindName::Loop,
        StepKind::SubWorkflow(_) => StepKindName::SubWorkflow,
        StepKind::Group(_) => StepKindName::Group,
    }
}
