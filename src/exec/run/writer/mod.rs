//! The one writer of a run: it alone owns `state.json`, the journal, `audit.jsonl` and the
//! runner's console lines, and applies the [`Event`]s the walker and the executors report, in
//! order.
//!
//! Durability (runs-and-state.md §4, docs/runs-and-state.md "How state is made durable"). The
//! journal is the durable record: every state change appends the whole document as one line
//! ([`Journal::append`]); a long-lived syncer thread `fdatasync`s it (and the audit log).
//! [`Writer::save`] appends and waits for the flush. [`Writer::save_later`] appends and marks
//! the record as due for a flush: it is used for the changes that move the position *between*
//! steps (a step's end, a loop's iteration boundary, a container setting up its child list), so
//! that the records of one boundary share one flush. From then until the flush is known
//! complete, the audit events and the `ok`/`failed` lines that follow are *held*: nothing
//! reports the step complete before the record saying so is on disk. The next event that
//! prints or runs something ([`Event::StepStarted`], a heading, a skip, an [`Event::Flush`]
//! before a `skip_if: sh:` or an engine hook, the run's end) flushes (or joins the flush under
//! way) and releases what was held. A step's start is appended without a
//! flush of its own: if it is lost, the step runs again, which it would anyway. A step that
//! starts its process at once ([`Event::StepStarted`] with `spawns`: a shell step) does not wait:
//! its audit events are written (the held ones first) so that its `step_start` is in the log
//! before its process exists, every console line is held behind the held end lines, and the
//! executor's [`Event::Flush`] right after the spawn waits and releases them. So a run of shell
//! steps costs one `fdatasync` per step, overlapped with the next step's spawn; a crash at any
//! instant re-runs at most the step whose end was not yet reported.
//! state.json is written, durably, only when the writer starts (compacting the journal, unless
//! the run's state is already on disk), when the journal has grown large (at a step boundary,
//! see [`Journal::is_large`]) and by [`Writer::compact`] at the end of the run.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::super::context::ScopeRef;
use super::super::error::RunError;
use super::super::usage::UsageTotals;
use super::branch::{BranchCtx, Fork};
use super::event::{EndLine, Event, Subscriber};
use crate::console::Console;
use crate::state::{
    AuditData, AuditEvent, AuditWriter, BranchFrame, BranchState, Captures, Counts, Frame,
    FrameState, Journal, ParallelFrame, Redactor, RunDir, RunStatus, Scope, StateDoc, StateError,
    StepResult,
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
    /// `ok`/`failed` lines held while `pending`, with the branch prefix they print with.
    held_lines: Vec<(String, Event)>,
    subscribers: Vec<Box<dyn Subscriber>>,
    /// The forks and label of the walker whose event is being applied ([`Writer::emit_in`]).
    current: Vec<Fork>,
    label: Option<String>,
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
        let sync_dir = run_dir.begin_journal(&mut doc, snapshot_current)?;
        let journal = run_dir.open_journal(&audit, sync_dir)?;
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
            current: Vec::new(),
            label: None,
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

    pub fn console_mut(&mut self) -> &mut Console {
        &mut self.console
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

    /// The frame of the step list at `depth` of the run's own chain, if it reaches it.
    pub fn frame(&self, depth: usize) -> Option<&Frame> {
        self.frame_in(&[], depth)
    }

    /// The frame at `depth` of the chain of a walker at `forks` (into each fork's branch).
    pub fn frame_in(&self, forks: &[Fork], depth: usize) -> Option<&Frame> {
        let mut frame = self.doc.position.as_ref()?;
        let mut forks = forks.iter().peekable();
        for d in 0..depth {
            frame = match forks.next_if(|f| f.depth == d) {
                Some(fork) => frame
                    .parallel
                    .as_ref()?
                    .branch(fork.index)?
                    .position
                    .as_ref()?,
                None => frame.child.as_deref()?,
            };
        }
        Some(frame)
    }

    /// The branch that `forks[i]` enters.
    fn branch_in(&self, forks: &[Fork], i: usize) -> Option<&BranchFrame> {
        let fork = forks.get(i)?;
        self.frame_in(&forks[..i], fork.depth)?
            .parallel
            .as_ref()?
            .branch(fork.index)
    }

    /// Where the captures and latest session of `scope` are kept for a walker at `forks`: the
    /// scope itself, or the innermost branch it encloses (a branch's own are its own).
    pub fn scope_in(&self, forks: &[Fork], scope: ScopeRef) -> Option<&Scope> {
        match own_branch(forks, scope) {
            Some(i) => self.branch_in(forks, i).map(|b| &b.scope),
            None => match scope {
                ScopeRef::Root => Some(&self.doc.scope),
                ScopeRef::SubWorkflow(depth) => self
                    .frame_in(forks, depth)?
                    .sub_workflow
                    .as_ref()
                    .map(|s| &s.scope),
            },
        }
    }

    /// The scope of a step list of the run's own chain, if it exists yet.
    pub fn scope(&self, scope: ScopeRef) -> Option<&Scope> {
        self.scope_in(&[], scope)
    }

    /// The captures a walker at `forks` sees in `scope`: the scope's, with those of every
    /// branch it is in laid over them (inner ones win). Borrowed when no branch captured.
    pub fn captures_in(&self, forks: &[Fork], scope: ScopeRef) -> Option<Cow<'_, Captures>> {
        self.layered(forks, scope, |s| &s.captures)
    }

    /// How the steps of `scope` ended (`steps.<id>`), as a walker at `forks` sees them.
    pub fn steps_in(
        &self,
        forks: &[Fork],
        scope: ScopeRef,
    ) -> Option<Cow<'_, BTreeMap<String, StepResult>>> {
        self.layered(forks, scope, |s| &s.steps)
    }

    /// A map of `scope` as a walker at `forks` sees it: the scope's own, with the same map of
    /// every branch it is in laid over it.
    fn layered<'s, T: Clone>(
        &'s self,
        forks: &[Fork],
        scope: ScopeRef,
        field: impl Fn(&'s Scope) -> &'s BTreeMap<String, T>,
    ) -> Option<Cow<'s, BTreeMap<String, T>>> {
        let first = outer_forks(forks, scope);
        let base = field(self.scope_in(&forks[..first], scope)?);
        let overlays: Vec<&BTreeMap<String, T>> = (first..forks.len())
            .filter_map(|i| self.branch_in(forks, i))
            .map(|b| field(&b.scope))
            .filter(|c| !c.is_empty())
            .collect();
        if overlays.is_empty() {
            return Some(Cow::Borrowed(base));
        }
        let mut merged = base.clone();
        for overlay in overlays {
            merged.extend(overlay.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Some(Cow::Owned(merged))
    }

    /// Why capture `name` has no value, as a walker at `forks` sees `scope`.
    pub fn capture_error_in(&self, forks: &[Fork], scope: ScopeRef, name: &str) -> Option<String> {
        let first = outer_forks(forks, scope);
        (first..forks.len())
            .rev()
            .filter_map(|i| self.branch_in(forks, i))
            .map(|b| &b.scope)
            .chain(self.scope_in(&forks[..first], scope))
            .find_map(|s| s.capture_errors.get(name).cloned())
    }

    // ----- writing -----

    /// Changes the document outside the step events: the start and end of a run.
    pub fn doc_mut(&mut self) -> &mut StateDoc {
        &mut self.doc
    }

    /// The frame at `depth` of the walker whose event is applied, created on the way.
    fn frame_mut(&mut self, depth: usize) -> &mut Frame {
        let forks = self.current.clone();
        self.frame_mut_in(&forks, depth)
    }

    /// The frame at `depth` of a walker at `forks`, created on the way (a branch that is not
    /// listed yet is added).
    pub(super) fn frame_mut_in(&mut self, forks: &[Fork], depth: usize) -> &mut Frame {
        let mut frame = self.doc.position.get_or_insert_with(Frame::default);
        let mut forks = forks.iter().peekable();
        for d in 0..depth {
            frame = match forks.next_if(|f| f.depth == d) {
                Some(fork) => branch_mut(frame, fork.index)
                    .position
                    .get_or_insert_with(Frame::default),
                None => frame.child.get_or_insert_with(Box::default),
            };
        }
        frame
    }

    fn scope_mut(&mut self, scope: ScopeRef) -> &mut Scope {
        if let Some(i) = own_branch(&self.current, scope) {
            let fork = self.current[i];
            let forks = self.current[..i].to_vec();
            let frame = self.frame_mut_in(&forks, fork.depth);
            return &mut branch_mut(frame, fork.index).scope;
        }
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
        self.release()?;
        self.fold_if_large()
    }

    /// Appends the document to the journal, due for the next flush, without waiting; the audit
    /// events and end lines that follow are held until it is on disk (see the module doc).
    pub fn save_later(&mut self) -> Result<(), RunError> {
        self.append()?;
        // The flush starts when something must wait for it (or a spawn can overlap it): the
        // records of one step boundary (a step's end, its iteration's, its loop's) share it.
        self.journal.mark_sync();
        self.pending = true;
        self.audit.hold();
        Ok(())
    }

    /// Appends the document to the journal and starts its flush, holding nothing back: for a
    /// record that nothing reported later depends on (a plain resume's first, which changes
    /// only the status of a position already on disk). The next step's end waits for it.
    pub fn save_unheld(&mut self) -> Result<(), RunError> {
        self.append()?;
        self.journal.request_sync();
        Ok(())
    }

    /// Flushes what [`Writer::save_later`] appended, if anything (or waits for the flush under
    /// way), and releases what it held.
    pub fn flush(&mut self) -> Result<(), RunError> {
        // Not once a step's process runs (the flush its spawn overlapped): the journal is
        // folded at a step boundary, never under a running step.
        let spawned = self.console.holding();
        self.flush_held(!spawned)
    }

    /// [`Writer::flush`]; with `fold`, a journal that has grown large is then folded into
    /// state.json (not at the run's end, which compacts anyway).
    fn flush_held(&mut self, fold: bool) -> Result<(), RunError> {
        if self.pending {
            // What the held lines and events depend on; a step's start appended since is not
            // waited for (see the module doc).
            self.journal.sync_requested().map_err(RunError::State)?;
            self.release()?;
            if fold {
                self.fold_if_large()?;
            }
        }
        Ok(())
    }

    /// Writes the final document as state.json (the run's end); the audit log is synced first.
    /// The new state.json is written and flushed while the journal's last flush (started here)
    /// goes on, and put in place once it is done. A completed run's
    /// journal is deleted; any other run's gets its final record again, stamped with the new
    /// state.json, so that its resume reads the journal (and only the loop items it runs).
    pub fn compact(&mut self) -> Result<(), RunError> {
        if self.pending {
            self.journal.request_sync();
        }
        let staged = self
            .run_dir
            .stage_close(&mut self.doc)
            .map_err(RunError::State)?;
        self.flush_held(false)?;
        self.audit.sync().map_err(RunError::State)?;
        let stamp = self
            .run_dir
            .finish_close(staged, &self.doc)
            .map_err(RunError::State)?;
        if stamp.is_some() {
            // A run that did not complete keeps its journal: its last record, stamped with the
            // state.json just written, lets the resume go on from it.
            self.doc.snapshot = stamp;
            let appended = self.journal.append(&mut self.doc).map(drop);
            self.doc.snapshot = None;
            appended
                .and_then(|()| self.journal.sync())
                .map_err(RunError::State)?;
        }
        Ok(())
    }

    fn append(&mut self) -> Result<(), RunError> {
        self.doc.touch();
        tracing::trace!(position = ?self.doc.position_path(), status = %self.doc.status, "journal record");
        self.journal
            .append(&mut self.doc)
            .map(drop)
            .map_err(RunError::State)
    }

    /// Nothing reaches the console before the end line it would follow: an event that prints
    /// waits for the flush under way, unless the next step is starting its process, which the
    /// flush then overlaps ([`Writer::hold_for_spawn`]); its lines are held until the executor's
    /// [`Event::Flush`]. Output on stdout (which the console does not hold) always waits.
    fn before_print(&mut self, event: &Event) -> Result<(), RunError> {
        let spawning = self.console.holding();
        match event {
            // A journal due to be folded is folded first (the step may read state.json).
            Event::StepStarted { spawns: true, .. }
                if self.pending && !spawning && !self.journal.is_large() =>
            {
                return self.hold_for_spawn();
            }
            Event::StepStarted { .. } | Event::Output { .. } => {}
            _ if spawning => return Ok(()),
            _ => {}
        }
        self.flush()
    }

    /// The next step starts its process while the record that moved past the step before is
    /// still being flushed. Its audit events are written now, so that its `step_start` is in
    /// the log before its process exists (the held ones first); every console line, the held end
    /// lines first, waits for the flush, so nothing reports a step complete before its record is
    /// on disk.
    fn hold_for_spawn(&mut self) -> Result<(), RunError> {
        self.journal.request_sync();
        self.console.hold();
        self.show_held_ends();
        self.audit.release().map_err(RunError::State)
    }

    /// Prints the end lines held so far, each with the branch prefix it was emitted with.
    fn show_held_ends(&mut self) {
        let prefix = std::mem::take(&mut self.console.prefix);
        for (line_prefix, line) in std::mem::take(&mut self.held_lines) {
            self.console.prefix = line_prefix;
            self.show_end(line);
        }
        self.console.prefix = prefix;
    }

    /// The journal is on disk up to now: writes the held audit events and prints held lines.
    fn release(&mut self) -> Result<(), RunError> {
        self.pending = false;
        self.audit.release().map_err(RunError::State)?;
        self.console.release();
        self.show_held_ends();
        Ok(())
    }

    /// Folds a journal that has grown large into state.json and starts an empty one, at a step
    /// boundary: the journal of a long run stays small, and state.json stays close to the run
    /// for tools that read it directly (docs/runs-and-state.md, "Compaction").
    fn fold_if_large(&mut self) -> Result<(), RunError> {
        if !self.journal.is_large() {
            return Ok(());
        }
        self.journal.sync().map_err(RunError::State)?;
        self.run_dir
            .compact(&mut self.doc)
            .map_err(RunError::State)?;
        self.journal = self
            .run_dir
            .open_journal(&self.audit, false)
            .map_err(RunError::State)?;
        Ok(())
    }

    /// Prints an [`Event::EndShown`] (counted when it arrived, [`Writer::count_end`]).
    fn show_end(&mut self, event: Event) {
        let Event::EndShown {
            line,
            duration,
            usage_text,
            message,
            ..
        } = event
        else {
            return;
        };
        match line {
            EndLine::Ok => self.console.ok(duration, usage_text.as_deref()),
            EndLine::Failed { continued } => {
                self.console
                    .failed(message.as_deref().unwrap_or_default(), duration, continued);
            }
            EndLine::Silent => {}
        }
    }

    /// Counts a step's end in the summary as it arrives, also while its line is held: the
    /// run's end records the counts without waiting for the last line to be printed.
    fn count_end(&mut self, event: &Event) {
        if let Event::EndShown { line, leaf, .. } = event {
            match line {
                EndLine::Ok => self.counts.ok += u64::from(*leaf),
                EndLine::Failed { continued: true } => {
                    self.counts.failed_continued += u64::from(*leaf);
                }
                EndLine::Failed { continued: false } | EndLine::Silent => {}
            }
        }
    }

    /// Appends an audit event of the run itself (`run_start`, `run_end`, …).
    pub fn audit(&mut self, event: AuditEvent, path: &str, data: Value) -> Result<u64, RunError> {
        self.audit
            .append(event, path, data)
            .map_err(RunError::State)
    }

    /// Appends a typed audit event; inside a branch its `data` carries `branch`.
    pub fn record(&mut self, path: &str, data: &AuditData) -> Result<u64, RunError> {
        let Some(label) = &self.label else {
            return self.audit.record(path, data).map_err(RunError::State);
        };
        let Some(event) = data.event() else {
            return self.audit.record(path, data).map_err(RunError::State);
        };
        let mut value = data.to_value();
        if let Value::Object(map) = &mut value {
            // The `worktree` event has a `branch` of its own (the git branch); its path names
            // the parallel branch.
            map.entry("branch".to_owned())
                .or_insert_with(|| Value::String(label.clone()));
        }
        self.audit
            .append(event, path, value)
            .map_err(RunError::State)
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

    /// Applies one event of the run's own walk (outside every branch).
    pub fn emit(&mut self, event: Event) -> Result<(), RunError> {
        self.current.clear();
        self.label = None;
        self.console.set_branch(None, 0);
        self.apply(event)
    }

    /// Applies one event reported by the walker at `branch`: its depths are in that walker's
    /// chain, its audit events carry the branch's label.
    pub fn emit_in(&mut self, branch: &BranchCtx, event: Event) -> Result<(), RunError> {
        self.current.clone_from(&branch.forks);
        self.label.clone_from(&branch.label);
        self.console
            .set_branch(branch.label.as_deref(), branch.colour);
        self.apply(event)
    }

    /// Applies one event: the console, the document and the audit log, in that order.
    fn apply(&mut self, event: Event) -> Result<(), RunError> {
        for subscriber in &mut self.subscribers {
            subscriber.event(&event);
        }
        if prints(&event) {
            self.before_print(&event)?;
        }
        match event {
            Event::StepStarted {
                step,
                label,
                mut start,
                spawns: _,
            } => {
                self.console.heading(&step.display, &label);
                let frame = self.frame_mut(step.depth);
                frame.state = FrameState::Running;
                frame.attempt += 1;
                // A retried step counts its tries (control.md §4); others their starts.
                start.attempt = Some(if frame.retry_attempt > 0 {
                    frame.retry_attempt
                } else {
                    frame.attempt
                });
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
                self.count_end(&end);
                if self.console.holding() {
                    // A step that ended before its process started (no `Flush` came).
                    self.flush()?;
                }
                if self.pending {
                    self.held_lines.push((self.console.prefix.clone(), end));
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
                    crate::console::print_stdout(&format!("{}{text}\n", self.console.prefix));
                }
                crate::agents::render::Target::Stderr if !self.console.quiet => {
                    self.console.emit(&text);
                }
                crate::agents::render::Target::Stderr => {}
            },
            Event::StderrTail(tail) => {
                let (lines, left_out) = crate::agents::event::without_backtrace(&tail);
                for line in lines {
                    self.console.emit(&format!("  {line}"));
                }
                if left_out > 0 {
                    self.console.emit(&format!(
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
            Event::RetryAttempt { depth, attempt } => {
                self.frame_mut(depth).retry_attempt = attempt;
            }
            Event::Retrying { path, line, record } => {
                self.console.line(&line);
                self.record(&path, &AuditData::StepRetry(record))?;
            }
            Event::OutputRepair { path, record } => {
                self.record(&path, &AuditData::OutputRepair(record))?;
            }
            Event::Worktree { path, record } => {
                // The branch's frame remembers its worktree: a resume that finds the worktree
                // again does not log it a second time.
                let forks = self.current.clone();
                let known = match forks.last() {
                    Some(fork) => {
                        let branch = branch_mut(self.frame_mut_in(&forks, fork.depth), fork.index);
                        let known = branch.worktree.is_some() && branch.worktree == record.path;
                        branch.worktree.clone_from(&record.path);
                        known
                    }
                    None => false,
                };
                if !known {
                    self.record(&path, &AuditData::Worktree(record))?;
                    self.save_later()?;
                }
            }
            Event::WorktreeBase { depth, commit } => {
                let frame = self.frame_mut(depth);
                let parallel = frame.parallel.get_or_insert_with(ParallelFrame::default);
                parallel.base_commit = Some(commit);
                self.save()?;
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
            Event::BranchStarted {
                depth,
                index,
                label,
                first_id,
            } => {
                let frame = self.frame_mut(depth);
                let parallel = frame.parallel.get_or_insert_with(ParallelFrame::default);
                parallel.next = parallel.next.max(index + 1);
                let branch = branch_mut(frame, index);
                branch.label = label;
                branch.state = BranchState::Running;
                branch
                    .position
                    .get_or_insert_with(|| Frame::pending(0, first_id));
                self.save_later()?;
            }
            Event::BranchEnded {
                depth,
                index,
                state,
                merge,
            } => {
                let frame = self.frame_mut(depth);
                let parallel = frame.parallel.get_or_insert_with(ParallelFrame::default);
                match state {
                    Some(state) => branch_mut(frame, index).state = state,
                    None => {
                        let at = parallel.branches.iter().position(|b| b.index == index);
                        let ended = at.map(|at| parallel.branches.remove(at));
                        if let (Some(ended), Some(scope)) = (ended, merge) {
                            let target = self.scope_mut(scope);
                            for name in ended.scope.captures.keys() {
                                target.capture_errors.remove(name);
                            }
                            target.captures.extend(ended.scope.captures);
                            target.capture_errors.extend(ended.scope.capture_errors);
                            target.steps.extend(ended.scope.steps);
                        }
                    }
                }
                self.save_later()?;
            }
            Event::Flush => self.flush()?,
        }
        Ok(())
    }
}

/// The branch whose own scope holds what a walker at `forks` keeps in `scope`: the innermost
/// fork that `scope` encloses (a sub-workflow called inside a branch has a scope of its own).
fn own_branch(forks: &[Fork], scope: ScopeRef) -> Option<usize> {
    forks.iter().rposition(|fork| encloses(scope, fork))
}

/// How many of the outer forks lie outside `scope` (its captures are read from there).
fn outer_forks(forks: &[Fork], scope: ScopeRef) -> usize {
    forks
        .iter()
        .position(|fork| encloses(scope, fork))
        .unwrap_or(forks.len())
}

fn encloses(scope: ScopeRef, fork: &Fork) -> bool {
    match scope {
        ScopeRef::Root => true,
        ScopeRef::SubWorkflow(depth) => depth < fork.depth,
    }
}

/// The branch `index` of a parallel step's frame, added when it is not listed yet.
fn branch_mut(frame: &mut Frame, index: u64) -> &mut BranchFrame {
    let parallel = frame.parallel.get_or_insert_with(ParallelFrame::default);
    let at = match parallel.branches.iter().position(|b| b.index == index) {
        Some(at) => at,
        None => {
            parallel.branches.push(BranchFrame {
                index,
                ..BranchFrame::default()
            });
            parallel.branches.len() - 1
        }
    };
    &mut parallel.branches[at]
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
        | Event::Retrying { .. }
        | Event::SecretsDeclared { .. } => true,
        Event::Warning { shown, .. } => *shown,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
