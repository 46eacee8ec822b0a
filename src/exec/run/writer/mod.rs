//! The one writer of a run: it alone owns `state.json`, the journal, `audit.jsonl` and the
//! runner's console lines, and applies the [`Event`]s the walker and the executors report, in
//! order.
//!
//! Durability (runs-and-state.md §4, docs/runs-and-state.md "How state is made durable"). The
//! journal is the durable record: every state change appends the whole document as one line
//! ([`Journal::append`]); a long-lived syncer thread `fdatasync`s it (and the audit log).
//! [`Writer::save`] appends and waits for the flush. [`Writer::save_later`] appends, starts the
//! flush and returns: it is used for the changes that move the position *between* steps (a
//! step's end, a loop's iteration boundary, a container setting up its child list). From then
//! until the flush is known complete, the audit events and the `ok`/`failed` lines that follow
//! are *held*: nothing reports the step complete before the record saying so is on disk. The
//! next event that prints or runs something ([`Event::StepStarted`], a heading, a skip, an
//! [`Event::Flush`] before a `skip_if: sh:` or an engine hook, the run's end) waits for the
//! flush already under way and releases what was held. A step's start is appended without a
//! flush of its own: if it is lost, the step runs again, which it would anyway. So a run of shell
//! steps costs one `fdatasync` per step, overlapped with the walker's work towards the next
//! step; a crash at any instant re-runs at most the step whose end was not yet reported.
//! state.json is written, durably, only when the writer starts (compacting the journal) and by
//! [`Writer::compact`] at the end of the run.

use std::sync::Arc;

use serde_json::Value;

use super::super::context::ScopeRef;
use super::super::error::RunError;
use super::super::usage::UsageTotals;
use super::event::{EndLine, Event, Subscriber};
use crate::console::Console;
use crate::state::{
    AuditData, AuditEvent, AuditWriter, Counts, Frame, FrameState, Journal, Redactor, RunDir,
    RunStatus, Scope, StateDoc, StateError,
};

pub struct Writer {
    doc: StateDoc,
    run_dir: RunDir,
    journal: Journal,
    audit: AuditWriter,
    console: Console,
    /// The run's redactor, which sub-workflow secrets are added to (every clone sees them).
    redactor: Arc<Redactor>,
    /// Shell and agent steps by how they ended, for the summary.
    counts: Counts,
    usage: UsageTotals,
    /// Journal records were appended by [`Writer::save_later`] and may not be on disk yet: audit
    /// events and end lines are held until they are.
    pending: bool,
    /// `ok`/`failed` lines held while `pending`.
    held_lines: Vec<Event>,
    subscribers: Vec<Box<dyn Subscriber>>,
}

impl Writer {
    /// The writer of a locked run: compacts `doc` into state.json (it must be at least as new
    /// as the run's journal, as [`RunDir::read_state`] returns it) and opens an empty journal.
    /// `snapshot_current`: `doc`'s position and loop lists are the ones in state.json (a plain
    /// resume), which then is not rewritten unless a journal record is newer.
    pub fn new(
        doc: StateDoc,
        run_dir: RunDir,
        audit: AuditWriter,
        console: Console,
        redactor: Arc<Redactor>,
        snapshot_current: bool,
    ) -> Result<Self, StateError> {
        let mut doc = doc;
        run_dir.begin_journal(&mut doc, snapshot_current)?;
        let journal = run_dir.open_journal(&audit)?;
        Ok(Writer {
            doc,
            run_dir,
            journal,
            audit,
            console,
            redactor,
            counts: Counts::default(),
            usage: UsageTotals::default(),
            pending: false,
            held_lines: Vec::new(),
            subscribers: Vec::new(),
        })
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

    /// Appends the document to the journal and waits until it is on disk, then releases what
    /// was held; a failure ends the run with exit 4.
    pub fn save(&mut self) -> Result<(), RunError> {
        self.append()?;
        self.journal.sync().map_err(RunError::State)?;
        self.release()
    }

    /// Appends the document to the journal and starts its flush without waiting; the audit
    /// events and end lines that follow are held until it is on disk (see the module doc).
    pub fn save_later(&mut self) -> Result<(), RunError> {
        self.append()?;
        self.journal.request_sync();
        self.pending = true;
        self.audit.hold();
        Ok(())
    }

    /// Waits for the flush [`Writer::save_later`] started, if any, and releases what it held.
    pub fn flush(&mut self) -> Result<(), RunError> {
        if self.pending {
            self.journal.sync().map_err(RunError::State)?;
            self.release()?;
        }
        Ok(())
    }

    /// Writes the final document as state.json and deletes the journal (the run's end); the
    /// audit log is synced first.
    pub fn compact(&mut self) -> Result<(), RunError> {
        self.flush()?;
        self.audit.sync().map_err(RunError::State)?;
        self.run_dir
            .close_journal(&mut self.doc)
            .map_err(RunError::State)
    }

    fn append(&mut self) -> Result<(), RunError> {
        self.doc.touch();
        tracing::trace!(position = ?self.doc.position_path(), status = %self.doc.status, "journal record");
        self.journal
            .append(&mut self.doc)
            .map(drop)
            .map_err(RunError::State)
    }

    /// The journal is on disk up to now: writes the held audit events and prints held lines.
    fn release(&mut self) -> Result<(), RunError> {
        self.pending = false;
        self.audit.release().map_err(RunError::State)?;
        for line in std::mem::take(&mut self.held_lines) {
            self.show_end(line);
        }
        Ok(())
    }

    /// Prints an [`Event::EndShown`] and counts it.
    fn show_end(&mut self, event: Event) {
        let Event::EndShown {
            line,
            leaf,
            duration,
            usage_text,
            message,
        } = event
        else {
            return;
        };
        match line {
            EndLine::Ok => {
                self.counts.ok += u64::from(leaf);
                self.console.ok(duration, usage_text.as_deref());
            }
            EndLine::Failed { continued } => {
                if continued {
                    self.counts.failed_continued += u64::from(leaf);
                }
                self.console
                    .failed(message.as_deref().unwrap_or_default(), duration, continued);
            }
            EndLine::Silent => {}
        }
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
        if prints(&event) {
            // Nothing reaches the console before the end line it would follow.
            self.flush()?;
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
                let has_agent = frame.agent.is_some();
                self.record(&step.path, &AuditData::StepStart(*start))?;
                // Not waited for: a start that is lost only runs the step again. An agent's
                // pre-assigned session id is flushed alongside its spawn.
                self.append()?;
                if has_agent {
                    self.journal.request_sync();
                }
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
            end @ Event::EndShown { .. } => {
                if self.pending {
                    self.held_lines.push(end);
                } else {
                    self.show_end(end);
                }
            }
            Event::StepResult { scope, id, result } => {
                self.scope_mut(scope).steps.insert(id, result);
            }
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
                self.save_later()?;
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
            Event::OutputRepair { path, record } => {
                self.record(&path, &AuditData::OutputRepair(record))?;
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
                self.save_later()?;
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
                    self.save_later()?;
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
                self.save_later()?;
            }
            Event::SubWorkflowEnded { path, record } => {
                self.record(&path, &AuditData::SubWorkflowEnd(record))?;
            }
            Event::GroupOpened { depth, first_id } => {
                self.frame_mut(depth).child = Some(Box::new(Frame::pending(0, first_id)));
                self.save_later()?;
            }
            Event::Flush => self.flush()?,
        }
        Ok(())
    }
}

/// Whether applying `event` writes to the console (other than a step's end line).
fn prints(event: &Event) -> bool {
    match event {
        Event::StepStarted { .. }
        | Event::Heading { .. }
        | Event::Skipped { .. }
        | Event::LoopBroken { .. }
        | Event::Detail(_)
        | Event::Line(_)
        | Event::Output { .. }
        | Event::StderrTail(_)
        | Event::IterationHeading { .. }
        | Event::SecretsDeclared { .. } => true,
        Event::Warning { shown, .. } => *shown,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
