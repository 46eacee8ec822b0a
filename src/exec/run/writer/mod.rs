//! The one writer of a run: it alone owns `state.json`, `audit.jsonl` and the runner's console
//! lines, and applies the [`Event`]s the walker and the executors report, in order.
//!
//! Durability (runs-and-state.md §4). [`Writer::save`] writes the whole document atomically,
//! then releases the held audit events and syncs the log. [`Writer::save_later`] only marks the
//! document changed and holds the audit events that follow: it is used for the changes that
//! move the position *between* steps (a step's end, a loop's iteration boundary, a container
//! setting up its child list, the resume start). After each of them nothing runs outside the
//! process before the next write, which is at the latest the next step's start
//! ([`Event::StepStarted`] always saves, releasing the held events before the step runs), the
//! end of the run (it always saves), or [`Event::Flush`] before a command that is not a step
//! (`skip_if: sh:`, an engine hook). So when a step starts, state.json already says so, fsynced.
//! A crash between the two writes finds the previous state and a log without the held events:
//! the step that had just ended runs again, as after a crash a moment earlier, between its exit
//! and its end write; a step reported complete is never lost nor run again. Folding the end of
//! step i into the start of step i+1 halves the state writes of a run of shell steps.

use std::sync::Arc;

use serde_json::Value;

use super::super::context::ScopeRef;
use super::super::error::RunError;
use super::super::usage::UsageTotals;
use super::event::{EndLine, Event, Subscriber};
use crate::console::Console;
use crate::state::{
    AuditData, AuditEvent, AuditWriter, Counts, Frame, FrameState, Redactor, RunDir, RunStatus,
    Scope, StateDoc,
};

pub struct Writer {
    doc: StateDoc,
    run_dir: RunDir,
    audit: AuditWriter,
    console: Console,
    /// The run's redactor, which sub-workflow secrets are added to (every clone sees them).
    redactor: Arc<Redactor>,
    /// Shell and agent steps by how they ended, for the summary.
    counts: Counts,
    usage: UsageTotals,
    /// The document has changes that [`Writer::save_later`] left for the next write.
    unsaved: bool,
    subscribers: Vec<Box<dyn Subscriber>>,
}

impl Writer {
    pub fn new(
        doc: StateDoc,
        run_dir: RunDir,
        audit: AuditWriter,
        console: Console,
        redactor: Arc<Redactor>,
    ) -> Self {
        Writer {
            doc,
            run_dir,
            audit,
            console,
            redactor,
            counts: Counts::default(),
            usage: UsageTotals::default(),
            unsaved: false,
            subscribers: Vec::new(),
        }
    }

    /// Adds a subscriber that sees every event from now on.
    pub fn subscribe(&mut self, subscriber: Box<dyn Subscriber>) {
        self.subscribers.push(subscriber);
    }

    // ----- reading -----

    pub fn doc(&self) -> &StateDoc {
        &self.doc
    }

    pub fn run_dir(&self) -> &RunDir {
        &self.run_dir
    }

    pub fn console(&self) -> &Console {
        &self.console
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn usage(&self) -> &UsageTotals {
        &self.usage
    }

    /// The `seq` the next audit event gets (a step's output files are named after its start).
    pub fn next_seq(&self) -> u64 {
        self.audit.next_seq()
    }

    /// The frame of the step list at `depth`, if the chain reaches it.
    pub fn frame(&self, depth: usize) -> Option<&Frame> {
        let mut frame = self.doc.position.as_ref()?;
        for _ in 0..depth {
            frame = frame.child.as_deref()?;
        }
        Some(frame)
    }

    /// The scope a step list's `scope` refers to, if it exists yet.
    pub fn scope(&self, scope: ScopeRef) -> Option<&Scope> {
        match scope {
            ScopeRef::Root => Some(&self.doc.scope),
            ScopeRef::SubWorkflow(depth) => {
                self.frame(depth)?.sub_workflow.as_ref().map(|s| &s.scope)
            }
        }
    }

    // ----- writing -----

    /// Changes the document outside the step events: the start and end of a run.
    pub fn doc_mut(&mut self) -> &mut StateDoc {
        &mut self.doc
    }

    /// The frame at `depth`, created on the way if the chain does not reach it yet.
    pub(super) fn frame_mut(&mut self, depth: usize) -> &mut Frame {
        let mut frame = self.doc.position.get_or_insert_with(Frame::default);
        for _ in 0..depth {
            frame = frame.child.get_or_insert_with(Box::default);
        }
        frame
    }

    fn scope_mut(&mut self, scope: ScopeRef) -> &mut Scope {
        match scope {
            ScopeRef::Root => &mut self.doc.scope,
            ScopeRef::SubWorkflow(depth) => {
                &mut self
                    .frame_mut(depth)
                    .sub_workflow
                    .get_or_insert_with(Default::default)
                    .scope
            }
        }
    }

    /// Saves the whole document atomically, then writes the held audit events and syncs the log
    /// (see [`RunDir::write_state_and_sync`]); a failure ends the run with exit 4.
    pub fn save(&mut self) -> Result<(), RunError> {
        self.doc.touch();
        self.unsaved = false;
        tracing::trace!(position = ?self.doc.position_path(), status = %self.doc.status, "saving state");
        self.run_dir
            .write_state_and_sync(&self.doc, &mut self.audit)
            .map_err(RunError::State)
    }

    /// Records that the document changed, for the next [`Writer::save`] to write; the audit
    /// events that follow are held back until then (see the module doc).
    pub fn save_later(&mut self) {
        self.unsaved = true;
        self.audit.hold();
    }

    /// Writes the changes [`Writer::save_later`] left, if any.
    pub fn flush(&mut self) -> Result<(), RunError> {
        if self.unsaved { self.save() } else { Ok(()) }
    }

    /// Appends an audit event of the run itself (`run_start`, `run_end`, …).
    pub fn audit(&mut self, event: AuditEvent, path: &str, data: Value) -> Result<u64, RunError> {
        self.audit
            .append(event, path, data)
            .map_err(RunError::State)
    }

    /// Appends a typed audit event.
    pub fn record(&mut self, path: &str, data: &AuditData) -> Result<u64, RunError> {
        self.audit.record(path, data).map_err(RunError::State)
    }

    /// Adds secret values to `sub_secrets` and, when any is new, to the run's redactor.
    fn declare_secrets(&mut self, values: Vec<String>) {
        let mut added = false;
        for value in values {
            if !self.doc.sub_secrets.contains(&value) {
                self.doc.sub_secrets.push(value);
                added = true;
            }
        }
        if added && let Err(err) = self.redactor.add_secrets(&self.doc.sub_secrets) {
            // Only a value too large for the regex engine gets here; say so rather than show it.
            self.console
                .warning(&format!("cannot redact a sub-workflow secret: {err}"));
        }
    }

    /// Applies one event: the console, the document and the audit log, in that order.
    pub fn emit(&mut self, event: Event) -> Result<(), RunError> {
        for subscriber in &mut self.subscribers {
            subscriber.event(&event);
        }
        match event {
            Event::StepStarted {
                step,
                label,
                mut start,
            } => {
                self.console.heading(&step.display, &label);
                let frame = self.frame_mut(step.depth);
                frame.state = FrameState::Running;
                frame.attempt += 1;
                start.attempt = Some(frame.attempt);
                self.record(&step.path, &AuditData::StepStart(*start))?;
                self.save()?;
            }
            Event::Heading { display, label } => self.console.heading(&display, &label),
            Event::Skipped {
                display,
                path,
                reason,
                skip,
                leaf,
            } => {
                self.counts.skipped += u64::from(leaf);
                self.console.skipped(&display, &reason);
                self.record(&path, &AuditData::Skip(skip))?;
            }
            Event::EndShown {
                line,
                leaf,
                duration,
                usage_text,
                message,
            } => match line {
                EndLine::Ok => {
                    self.counts.ok += u64::from(leaf);
                    self.console.ok(duration, usage_text.as_deref());
                }
                EndLine::Failed { continued } => {
                    if continued {
                        self.counts.failed_continued += u64::from(leaf);
                    }
                    self.console.failed(
                        message.as_deref().unwrap_or_default(),
                        duration,
                        continued,
                    );
                }
                EndLine::Silent => {}
            },
            Event::StepEnded { path, end } => {
                self.record(&path, &AuditData::StepEnd(*end))?;
            }
            Event::Advanced {
                depth,
                index,
                step_id,
                previous,
            } => {
                *self.frame_mut(depth) = Frame {
                    previous_outcome: previous,
                    ..Frame::pending(index, step_id)
                };
                self.save_later();
            }
            Event::Interrupted { depth } => {
                self.frame_mut(depth).state = FrameState::Interrupted;
            }
            Event::RunFailed { depth, failure } => {
                self.frame_mut(depth).state = FrameState::Failed;
                self.doc.status = RunStatus::Failed;
                self.doc.last_failure = Some(failure);
                self.save()?;
            }
            Event::LoopBroken {
                loop_depth,
                matched,
            } => {
                let loop_id = self.frame_mut(loop_depth).step_id.clone();
                self.console.line(&format!(
                    "  break_if {matched} matched: leaving loop \"{loop_id}\""
                ));
                if let Some(looped) = self.frame_mut(loop_depth).loop_.as_mut() {
                    looped.break_triggered = true;
                }
                self.save()?;
            }
            Event::Detail(text) => self.console.detail(&text),
            Event::Line(text) => self.console.line(&text),
            // `--quiet` keeps the step's output (the stream rendered on stdout) and drops only
            // what goes to stderr.
            Event::Output { text, target } => match target {
                crate::agents::render::Target::Stdout => {
                    crate::console::print_stdout(&format!("{text}\n"));
                }
                crate::agents::render::Target::Stderr if !self.console.quiet => {
                    crate::console::eprint_line(&text);
                }
                crate::agents::render::Target::Stderr => {}
            },
            Event::StderrTail(tail) => {
                let (lines, left_out) = crate::agents::event::without_backtrace(&tail);
                for line in lines {
                    crate::console::eprint_line(&format!("  {line}"));
                }
                if left_out > 0 {
                    crate::console::eprint_line(&format!(
                        "  ({left_out} lines of the CLI's backtrace are in the step's .stderr output file)"
                    ));
                }
            }
            Event::AgentPlanned { depth, agent } => {
                self.frame_mut(depth).agent = Some(agent);
            }
            Event::SessionSeen { step, record, save } => {
                if save && let Some(agent) = self.frame_mut(step.depth).agent.as_mut() {
                    agent.session_id = record.session_id.clone();
                }
                self.record(&step.path, &AuditData::Session(record))?;
                if save {
                    self.save()?;
                }
            }
            Event::Captured { scope, name, value } => {
                let scope = self.scope_mut(scope);
                scope.capture_errors.remove(&name);
                scope.captures.insert(name, value);
            }
            Event::CaptureRefused { scope, name, why } => {
                self.scope_mut(scope).capture_errors.insert(name, why);
            }
            Event::Usage {
                input,
                cached,
                output,
                cost_usd,
            } => self.usage.add(input, cached, output, cost_usd),
            Event::SessionKept { scope, last, named } => {
                self.scope_mut(scope).last_session = Some(last);
                if let Some((name, session)) = named {
                    self.doc.named_sessions.insert(name, session);
                }
            }
            Event::Warning {
                path,
                code,
                message,
                shown,
            } => {
                if shown {
                    self.console.warning(&message);
                }
                let warning = crate::state::Warning {
                    code: Some(code),
                    message: Some(message),
                };
                // A warning that cannot be logged is not worth ending the run for.
                let _ = self.record(&path, &AuditData::Warning(warning));
            }
            Event::Engine { path, records } => {
                for record in records {
                    self.record(&path, &AuditData::Engine(record.into()))?;
                }
            }
            Event::Control { path, record } => {
                let _ = self.record(&path, &AuditData::Control(record));
            }
            Event::LoopPlanned { depth, plan } => self.frame_mut(depth).loop_ = Some(plan),
            Event::IterationHeading { heading, item } => {
                self.console.iteration(&heading, item.as_deref());
            }
            Event::IterationStarted {
                depth,
                path,
                first_id,
                record,
            } => {
                self.record(&path, &AuditData::IterationStart(record))?;
                self.frame_mut(depth).child = Some(Box::new(Frame::pending(0, first_id)));
                self.save_later();
            }
            Event::IterationEnded {
                depth,
                path,
                record,
                next,
            } => {
                self.record(&path, &AuditData::IterationEnd(record))?;
                // A failed iteration keeps its frames: a resume re-runs exactly the step that
                // failed.
                if let Some(broke) = next {
                    let frame = self.frame_mut(depth);
                    frame.child = None;
                    if let Some(looped) = frame.loop_.as_mut() {
                        looped.iteration += 1;
                        looped.break_triggered |= broke;
                    }
                    self.save_later();
                }
            }
            Event::SecretsDeclared { values } => self.declare_secrets(values),
            Event::SubWorkflowEntered { depth, call } => {
                self.frame_mut(depth).sub_workflow = Some(call);
            }
            Event::SubWorkflowStarted {
                depth,
                path,
                first_id,
                record,
            } => {
                self.record(&path, &AuditData::SubWorkflowStart(record))?;
                self.frame_mut(depth).child = Some(Box::new(Frame::pending(0, first_id)));
                self.save_later();
            }
            Event::SubWorkflowEnded { path, record } => {
                self.record(&path, &AuditData::SubWorkflowEnd(record))?;
            }
            Event::GroupOpened { depth, first_id } => {
                self.frame_mut(depth).child = Some(Box::new(Frame::pending(0, first_id)));
                self.save_later();
            }
            Event::Flush => self.flush()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
