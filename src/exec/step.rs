//! One step's lifecycle inside the dispatcher: start (heading, frame, `step_start`, save), hand
//! over to the executor for its kind, and end (console line, `step_end`, flow control, save).

use std::time::Instant;

use crate::state::AuditEvent;
use serde_json::{Map, Value, json};

use super::context::ListCtx;
use super::dispatcher::{Dispatcher, breaks};
use super::error::RunError;
use super::outcome::{End, Failure};
use crate::state::{FrameState, LastFailure, Outcome, RunStatus};
use crate::workflow::{Step, StepKind};

/// What an executor reports besides how the step ended: extra `step_end` data and, for agent
/// steps, the usage text for the console end line.
#[derive(Debug)]
pub struct Report {
    pub end: End,
    pub data: Map<String, Value>,
    pub usage_text: Option<String>,
}

impl Report {
    pub fn new(end: End) -> Self {
        Report {
            end,
            data: Map::new(),
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
    /// The step had started before (a resumed run continues it).
    pub resuming: bool,
}

impl Dispatcher {
    pub(super) async fn run_step(&mut self, at: &At<'_>) -> Result<Report, RunError> {
        match &at.step.kind {
            StepKind::Shell(shell) => super::leaf::run_shell(self, at, shell).await,
            StepKind::Agent(agent) => super::agent::run_agent(self, at, agent).await,
            StepKind::Loop(looped) => super::containers::run_loop(self, at, looped).await,
            StepKind::Group(children) => super::containers::run_group(self, at, children).await,
            StepKind::SubWorkflow(call) => {
                super::containers::run_sub_workflow(self, at, call).await
            }
        }
    }

    /// Marks the step running: heading, frame, `step_start` (returns its seq), save.
    pub(super) fn begin(
        &mut self,
        at: &At<'_>,
        label: &str,
        mut data: Map<String, Value>,
    ) -> Result<u64, RunError> {
        self.console.heading(at.display, label);
        let frame = self.frame(at.ctx.depth);
        frame.state = FrameState::Running;
        frame.attempt += 1;
        let attempt = frame.attempt;
        let mut start = Map::new();
        start.insert("kind".into(), json!(kind_name(at.step)));
        start.insert("attempt".into(), json!(attempt));
        if let Some(skip_if) = self.pending_skip_if.take() {
            start.insert("skip_if".into(), skip_if);
        }
        start.append(&mut data);
        let seq = self.audit(AuditEvent::StepStart, at.audit_path, Value::Object(start))?;
        self.save()?;
        Ok(seq)
    }

    /// Records how a step ended and applies flow control. `Some(end)` ends the list.
    pub(super) fn finish_step(
        &mut self,
        at: &At<'_>,
        report: Report,
        started: Instant,
    ) -> Result<Option<End>, RunError> {
        let Report {
            end,
            mut data,
            usage_text,
        } = report;
        let duration = started.elapsed();
        let leaf = matches!(at.step.kind, StepKind::Shell(_) | StepKind::Agent(_));
        let step_breaks = breaks(at.step, &end);
        data.insert(
            "duration_ms".into(),
            json!(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)),
        );
        match end {
            End::Interrupted => {
                self.frame(at.ctx.depth).state = FrameState::Interrupted;
                data.insert("outcome".into(), json!("interrupted"));
                self.audit(AuditEvent::StepEnd, at.audit_path, Value::Object(data))?;
                Ok(Some(End::Interrupted))
            }
            End::Success | End::Break => {
                if leaf {
                    self.counts.ok += 1;
                }
                self.console.ok(duration, usage_text.as_deref());
                data.insert("outcome".into(), json!("success"));
                let propagate = matches!(end, End::Break) || step_breaks;
                if propagate {
                    data.insert("break_triggered".into(), json!(true));
                }
                // The state moves on before `step_end` is written: a crash in between must not
                // leave a recorded success that a resume runs again.
                if step_breaks {
                    self.break_loop(at, "success")?;
                } else if !matches!(end, End::Break) {
                    self.advance(at.ctx, at.steps, at.index, Some(Outcome::Success));
                }
                self.audit(AuditEvent::StepEnd, at.audit_path, Value::Object(data))?;
                Ok(propagate.then_some(End::Break))
            }
            End::Failed(mut failure) => {
                data.insert("outcome".into(), json!("failed"));
                data.insert(
                    "error".into(),
                    json!({"class": failure.class.as_str(), "message": failure.message}),
                );
                if step_breaks {
                    self.console.failed(&failure.message, duration, false);
                    data.insert("continued".into(), json!(true));
                    self.break_loop(at, "failure")?;
                    self.audit(AuditEvent::StepEnd, at.audit_path, Value::Object(data))?;
                    return Ok(Some(End::Break));
                }
                if at.step.continue_on_failure {
                    if leaf {
                        self.counts.failed_continued += 1;
                    }
                    self.console.failed(&failure.message, duration, true);
                    data.insert("continued".into(), json!(true));
                    self.advance(at.ctx, at.steps, at.index, Some(Outcome::Failed));
                    self.audit(AuditEvent::StepEnd, at.audit_path, Value::Object(data))?;
                    return Ok(None);
                }
                self.console.failed(&failure.message, duration, false);
                self.audit(AuditEvent::StepEnd, at.audit_path, Value::Object(data))?;
                let path = failure
                    .path
                    .get_or_insert_with(|| at.audit_path.to_owned())
                    .clone();
                failure.display.get_or_insert_with(|| at.display.to_owned());
                self.frame(at.ctx.depth).state = FrameState::Failed;
                self.doc.status = RunStatus::Failed;
                self.doc.last_failure = Some(LastFailure {
                    path,
                    class: failure.class,
                    message: failure.message.clone(),
                });
                self.save()?;
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
        let loop_id = self.frame(loop_depth).step_id.clone();
        self.console.line(&format!(
            "  break_if {matched} matched: leaving loop \"{loop_id}\""
        ));
        if let Some(looped) = self.frame(loop_depth).loop_.as_mut() {
            looped.break_triggered = true;
        }
        self.save()
    }
}

pub fn kind_name(step: &Step) -> &'static str {
    match &step.kind {
        StepKind::Shell(shell) if shell.interactive => "interactive_shell",
        StepKind::Shell(_) => "shell",
        StepKind::Agent(agent) => match agent.mode {
            crate::workflow::AgentMode::Interactive => "interactive",
            crate::workflow::AgentMode::Headless => "headless",
        },
        StepKind::Loop(_) => "loop",
        StepKind::SubWorkflow(_) => "sub_workflow",
        StepKind::Group(_) => "group",
    }
}
