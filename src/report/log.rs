//! `agent-runner log`: the audit log made readable, one line per event —
//! `<hh:mm:ss.mmm> <event> <path> <summary>` — or, with `--json`, the raw lines unchanged.
//!
//! The summary is a compact digest of the event's `data` (the kind and command of a step start,
//! the outcome and duration of a step end, a skip's reason, …), cut to one line and redacted:
//! the log was redacted when it was written, but short secret params slip through that, so
//! their names are checked again here. `-f` polls the log every [`POLL_INTERVAL`] with
//! [`AuditReader`] and stops once no live process holds the run's lock (a finished run has
//! written `run_end` and released it); a closed stdout stops it quietly.

use std::io::{self, Write};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::{ReportError, clock_time, one_line, skip_reason_label, usage_label};
use crate::console::format;
use crate::state::{
    AuditData, AuditLine, AuditReader, AuditRecord, ControlAction, REDACTED, Redactor, RunEnd,
    RunEntry, RunStart, StepEnd, StepOutcome, StepStart, UsageRecord,
};

/// How often `log -f` looks for new lines.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Longest piece of text (a command, a message) kept in a summary.
const MAX_PIECE: usize = 120;

/// How `log` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Print the raw JSON lines.
    pub json: bool,
    /// Keep reading until the run ends.
    pub follow: bool,
    /// How long to wait between reads while following.
    pub poll: Duration,
}

/// Writes the run's log to `out`. A closed pipe ends it quietly; a missing log is an empty one.
pub fn write_log(
    entry: &RunEntry,
    redactor: &Redactor,
    options: &Options,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    let secret_params: &[String] = entry
        .state
        .as_ref()
        .map_or(&[], |doc| doc.secret_params.as_slice());
    let render = |line: &AuditLine| {
        if options.json {
            redactor.redact(&line.raw).into_owned()
        } else {
            render_line(line, secret_params, redactor)
        }
    };
    let live = || options.follow && entry.run.probe_lock().is_some();

    let path = entry.run.audit_path();
    let mut reader = loop {
        if path.exists() {
            break AuditReader::open(&path)?;
        }
        if !live() {
            return Ok(());
        }
        thread::sleep(options.poll);
    };
    loop {
        // Look at the lock before reading: if it was free then, everything the runner wrote
        // is already in the file and this read gets it.
        let still_live = live();
        for line in reader.read_new_lines()? {
            if !emit(out, &render(&line))? {
                return Ok(());
            }
        }
        if !still_live {
            break;
        }
        thread::sleep(options.poll);
    }
    if let Some(line) = reader.finish() {
        emit(out, &render(&line))?;
    }
    Ok(())
}

/// Writes one line; `Ok(false)` when the reader has gone away.
fn emit(out: &mut impl Write, line: &str) -> Result<bool, ReportError> {
    match out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(ReportError::Stdout(e)),
    }
}

/// One line of the log as text; a line that is not a valid event is shown as it is, marked
/// `(unreadable)` in the event column.
pub fn render_line(line: &AuditLine, secret_params: &[String], redactor: &Redactor) -> String {
    match &line.record {
        Some(record) => render_event(record, secret_params, redactor),
        None => redactor
            .redact(&format!(
                "--:--:--.--- (unreadable) {}",
                one_line(&line.raw, 200)
            ))
            .into_owned(),
    }
}

/// `<hh:mm:ss.mmm> <event> <path> <summary>`, the path and summary left out when empty.
pub fn render_event(record: &AuditRecord, secret_params: &[String], redactor: &Redactor) -> String {
    let mut parts = vec![clock_time(&record.ts), one_line(&record.event, 40)];
    if !record.path.is_empty() {
        parts.push(one_line(&record.path, 200));
    }
    let summary = summarize(&record.event, &record.data, secret_params);
    if !summary.is_empty() {
        parts.push(summary);
    }
    redactor.redact(&parts.join(" ")).into_owned()
}

/// A piece of text, on one line and cut to [`MAX_PIECE`] characters.
fn piece(text: Option<&str>) -> Option<String> {
    text.map(|s| one_line(s, MAX_PIECE))
}

fn duration_of(duration_ms: Option<u64>) -> Option<String> {
    duration_ms.map(|ms| format::duration(Duration::from_millis(ms)))
}

/// `<in> in / <out> out tokens[, $<cost>]` of an agent step's usage (and the cost beside it).
fn step_usage(usage: Option<&UsageRecord>, cost_usd: Option<f64>) -> Option<String> {
    let usage = usage?;
    Some(usage_label(
        usage.input_tokens.unwrap_or(0),
        usage.output_tokens.unwrap_or(0),
        cost_usd,
    ))
}

/// The event-specific digest of `data`.
pub fn summarize(event: &str, data: &Value, secret_params: &[String]) -> String {
    match AuditData::parse(event, data) {
        AuditData::RunStart(start) => run_start(&start, secret_params),
        AuditData::RunEnd(end) => run_end(&end),
        AuditData::StepStart(start) => step_start(&start),
        AuditData::StepEnd(end) => step_end(&end),
        AuditData::Skip(skip) => skip_reason_label(&skip),
        AuditData::StepRetry(retry) => {
            let class = retry.class.map_or("?", |c| c.as_str());
            format!(
                "attempt {} in {}ms ({class}: {})",
                retry.attempt,
                retry.delay_ms,
                one_line(&retry.message, MAX_PIECE)
            )
        }
        AuditData::IterationStart(iteration) => {
            let mut text = format!("iteration {}", iteration.iteration.unwrap_or(0));
            if let Some(item) = piece(iteration.item.as_deref()) {
                text.push_str(&format!(" {item}"));
            }
            text
        }
        AuditData::IterationEnd(iteration) => {
            let mut text = format!("iteration {}", iteration.iteration.unwrap_or(0));
            push_outcome(&mut text, iteration.outcome, iteration.duration_ms);
            text
        }
        AuditData::SubWorkflowStart(call) => {
            named_source(call.name.as_deref(), call.source.as_deref())
        }
        AuditData::SubWorkflowEnd(call) => {
            let mut text = String::new();
            push_outcome(&mut text, call.outcome, call.duration_ms);
            text.trim_start().to_owned()
        }
        AuditData::Session(session) => join_present([
            piece(session.cli.as_deref()),
            piece(session.session_id.as_deref()),
            session.how.map(|how| format!("({})", how.as_str())),
        ]),
        AuditData::Control(control) => {
            let action = control.action.map(|action| match action {
                ControlAction::Continue => "continue".to_owned(),
                ControlAction::Abort => "abort".to_owned(),
            });
            let mut text = join_present([
                action,
                piece(control.source.as_deref()).map(|source| format!("({source})")),
            ]);
            if let Some(note) = piece(control.note.as_deref()) {
                text.push_str(&format!(": {note}"));
            }
            text
        }
        AuditData::Engine(record) => {
            let mut text = join_present([
                piece(record.engine.as_deref()),
                piece(record.hook.as_deref()),
                piece(record.outcome.as_deref()),
                duration_of(record.duration_ms).map(|d| format!("({d})")),
            ]);
            if let Some(message) = piece(record.message.as_deref()) {
                text.push_str(&format!(": {message}"));
            }
            text
        }
        AuditData::Warning(warning) => piece(warning.message.as_deref()).unwrap_or_default(),
        AuditData::Error(error) => {
            let class = error.class.map(|c| c.as_str().to_owned());
            match (class, piece(error.message.as_deref())) {
                (Some(class), Some(message)) => format!("{class}: {message}"),
                (class, message) => class.or(message).unwrap_or_default(),
            }
        }
        AuditData::Interrupt(interrupt) => {
            let mut text = piece(interrupt.signal.as_deref()).unwrap_or_default();
            if let Some(count) = interrupt.count.filter(|&c| c > 1) {
                text.push_str(&format!(" (#{count})"));
            }
            text
        }
        AuditData::LockTakeover(takeover) => {
            let pid = takeover
                .previous_pid
                .map_or_else(|| "?".to_owned(), |pid| pid.to_string());
            let host = piece(takeover.previous_host.as_deref()).unwrap_or_else(|| "?".to_owned());
            format!("from pid {pid} on {host}")
        }
        AuditData::Worktree(worktree) => join_present([
            piece(worktree.branch.as_deref()),
            Some(
                if worktree.reused == Some(true) {
                    "reused"
                } else {
                    "created"
                }
                .to_owned(),
            ),
            piece(worktree.path.as_deref()).map(|path| format!("at {path}")),
        ]),
        AuditData::OutputRepair(repair) => {
            let errors = crate::workflow::output::describe_errors(&repair.errors);
            one_line(&errors, MAX_PIECE)
        }
        AuditData::Unknown(data) if data.is_null() => String::new(),
        AuditData::Unknown(data) => one_line(&data.to_string(), MAX_PIECE),
    }
}

/// The present pieces, separated by spaces.
fn join_present<const N: usize>(pieces: [Option<String>; N]) -> String {
    pieces.into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// `<name> (<source>)`, or whichever of the two is known.
fn named_source(name: Option<&str>, source: Option<&str>) -> String {
    match (piece(name), piece(source)) {
        (Some(name), Some(source)) => format!("{name} ({source})"),
        (name, source) => name.or(source).unwrap_or_default(),
    }
}

/// Appends ` <outcome> (<duration>)`.
fn push_outcome(text: &mut String, outcome: Option<StepOutcome>, duration_ms: Option<u64>) {
    if let Some(outcome) = outcome {
        text.push_str(&format!(" {}", outcome.as_str()));
    }
    if let Some(duration) = duration_of(duration_ms) {
        text.push_str(&format!(" ({duration})"));
    }
}

fn run_start(start: &RunStart, secret_params: &[String]) -> String {
    let mut text = start
        .workflow
        .as_ref()
        .map(|w| named_source(w.name.as_deref(), w.source.as_deref()))
        .unwrap_or_default();
    if start.resumed == Some(true) {
        text.push_str(" resumed");
        if let Some(at) = piece(start.resume_from.as_deref()) {
            text.push_str(&format!(" at {at}"));
        }
    }
    if let Some(from) = piece(start.from.as_deref()) {
        text.push_str(&format!(" from {from}"));
    }
    for (name, value) in &start.params {
        let shown = if secret_params.contains(name) {
            REDACTED.to_owned()
        } else {
            match value {
                Value::String(s) => one_line(s, MAX_PIECE),
                other => one_line(&other.to_string(), MAX_PIECE),
            }
        };
        text.push_str(&format!(" {}={shown}", one_line(name, 40)));
    }
    text.trim_start().to_owned()
}

fn run_end(end: &RunEnd) -> String {
    let mut text = end
        .outcome
        .map_or_else(|| "ended".to_owned(), |o| o.as_str().to_owned());
    if let Some(code) = end.exit_code {
        text.push_str(&format!(" (exit {code})"));
    }
    if let Some(duration) = duration_of(end.duration_ms) {
        text.push_str(&format!(" in {duration}"));
    }
    if let Some(counts) = end.counts {
        text.push_str(&format!(
            ": {} ok, {} skipped, {} failed but continued",
            counts.ok, counts.skipped, counts.failed_continued
        ));
    }
    if let Some(usage) = &end.usage {
        let label = usage_label(usage.input_tokens, usage.output_tokens, usage.cost_usd);
        text.push_str(&format!("; {label}"));
    }
    text
}

fn step_start(start: &StepStart) -> String {
    let kind = start.kind.map(|k| k.as_str().to_owned());
    let mut text = if let Some(cli) = piece(start.cli.as_deref()) {
        let mode = piece(start.mode.as_deref())
            .or(kind)
            .unwrap_or_else(|| "agent".to_owned());
        let mut label = format!("{mode} {cli}");
        if let Some(model) = piece(start.model.clone().flatten().as_deref()) {
            label.push_str(&format!("/{model}"));
        }
        if let Some(strategy) = &start.session_strategy {
            label.push_str(&format!(
                ", session {}",
                one_line(&strategy.to_string(), MAX_PIECE)
            ));
        }
        label
    } else if let Some(command) = piece(start.command.as_deref()) {
        format!("{}: {command}", kind.unwrap_or_else(|| "shell".to_owned()))
    } else if let Some(loop_kind) = start.loop_kind.as_deref() {
        if loop_kind == "for_each" {
            let pattern = piece(start.pattern.as_deref()).unwrap_or_else(|| "?".to_owned());
            let matches = start.match_count.unwrap_or(0);
            format!("for-each {pattern} ({matches} matches)")
        } else {
            match start.max {
                Some(max) => format!("loop x{max}"),
                None => "loop".to_owned(),
            }
        }
    } else if start.source.is_some() {
        format!(
            "sub-workflow {}",
            named_source(start.name.as_deref(), start.source.as_deref())
        )
    } else {
        kind.unwrap_or_default()
    };
    if let Some(attempt) = start.attempt.filter(|&a| a > 1) {
        text.push_str(&format!(" (attempt {attempt})"));
    }
    text
}

fn step_end(end: &StepEnd) -> String {
    let mut text = end
        .outcome
        .map_or_else(|| "ended".to_owned(), |o| o.as_str().to_owned());
    let details: Vec<String> = [
        duration_of(end.duration_ms),
        step_usage(end.usage.as_ref(), end.cost_usd.flatten()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !details.is_empty() {
        text.push_str(&format!(" ({})", details.join(", ")));
    }
    let error = end.error.as_ref().and_then(|e| piece(e.message.as_deref()));
    if let Some(message) = error {
        text.push_str(&format!(": {message}"));
    }
    if end.continued == Some(true) {
        text.push_str("; continued");
    }
    if end.break_triggered == Some(true) {
        text.push_str("; break");
    }
    if let Some(capture) = end.capture.as_ref().and_then(|c| piece(Some(&c.name))) {
        text.push_str(&format!("; captured {capture}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{Fixture, append_events, write_run};
    use crate::report::{redactor_for, select_run_in};
    use crate::state::{AuditEvent, RunStatus, read_audit};
    use pretty_assertions::assert_eq;
    use serde_json::json;
    use std::fs;

    fn record(event: &str, path: &str, data: Value) -> AuditRecord {
        AuditRecord {
            ts: "2026-11-21T09:31:40.118Z".into(),
            seq: 1,
            run_id: "r-1".into(),
            event: event.into(),
            path: path.into(),
            data,
        }
    }

    fn line(event: &str, path: &str, data: Value) -> String {
        let redactor = Redactor::token_shapes_only().unwrap();
        render_event(&record(event, path, data), &["pw".to_owned()], &redactor)
    }

    #[test]
    fn one_readable_line_per_event() {
        let cases = [
            (
                line(
                    "run_start",
                    "",
                    json!({"workflow": {"name": "flokay", "source": "builtin:flokay"},
                           "params": {"change_name": "add-login", "pw": "abc"},
                           "resumed": false, "resume_from": null, "from": null}),
                ),
                "09:31:40.118 run_start flokay (builtin:flokay) change_name=add-login pw=[REDACTED]",
            ),
            (
                line(
                    "run_start",
                    "",
                    json!({"workflow": {"name": "flokay", "source": "builtin:flokay"},
                           "resumed": true, "resume_from": "implement[1]/work"}),
                ),
                "09:31:40.118 run_start flokay (builtin:flokay) resumed at implement[1]/work",
            ),
            (
                line(
                    "run_end",
                    "",
                    json!({"outcome": "completed", "exit_code": 0, "duration_ms": 160_000,
                           "counts": {"ok": 2, "skipped": 0, "failed_continued": 1},
                           "usage": {"input_tokens": 41_200, "output_tokens": 3_100,
                                     "cost_usd": 0.22}}),
                ),
                "09:31:40.118 run_end completed (exit 0) in 2m40s: 2 ok, 0 skipped, 1 failed but continued; 41.2k in / 3.1k out tokens, $0.22",
            ),
            (
                line(
                    "step_start",
                    "attempts[0]/test",
                    json!({"kind": "shell", "attempt": 1, "command": "cargo test\n--all"}),
                ),
                "09:31:40.118 step_start attempts[0]/test shell: cargo test\\n--all",
            ),
            (
                line(
                    "step_start",
                    "fix",
                    json!({"kind": "headless", "mode": "headless", "cli": "codex",
                           "model": "gpt-5-codex", "session_strategy": "new", "attempt": 2}),
                ),
                "09:31:40.118 step_start fix headless codex/gpt-5-codex, session new (attempt 2)",
            ),
            (
                line(
                    "step_start",
                    "implement",
                    json!({"kind": "loop", "loop_kind": "counted", "max": 30}),
                ),
                "09:31:40.118 step_start implement loop x30",
            ),
            (
                line(
                    "step_start",
                    "each",
                    json!({"kind": "loop", "loop_kind": "for_each", "pattern": "src/*.rs",
                           "match_count": 4}),
                ),
                "09:31:40.118 step_start each for-each src/*.rs (4 matches)",
            ),
            (
                line(
                    "step_start",
                    "validate",
                    json!({"kind": "sub_workflow", "name": "core/run-validator",
                           "source": "builtin:core/run-validator"}),
                ),
                "09:31:40.118 step_start validate sub-workflow core/run-validator (builtin:core/run-validator)",
            ),
            (
                line("step_start", "setup", json!({"kind": "group"})),
                "09:31:40.118 step_start setup group",
            ),
            (
                line(
                    "step_end",
                    "implement[2]/work/validate/attempts[0]/check",
                    json!({"outcome": "failed", "duration_ms": 14_210, "exit_code": 101,
                           "error": {"class": "exit_status", "message": "exit status 101"},
                           "capture": {"name": "validator_output", "bytes": 5120},
                           "continued": true}),
                ),
                "09:31:40.118 step_end implement[2]/work/validate/attempts[0]/check failed (14.2s): exit status 101; continued; captured validator_output",
            ),
            (
                line(
                    "step_end",
                    "fix",
                    json!({"outcome": "success", "duration_ms": 130_000,
                           "usage": {"input_tokens": 41_200, "output_tokens": 3_100},
                           "cost_usd": null, "break_triggered": true}),
                ),
                "09:31:40.118 step_end fix success (2m10s, 41.2k in / 3.1k out tokens); break",
            ),
            (
                line(
                    "skip",
                    "lint",
                    json!({"reason": "sh", "command": "test -f x", "exit_code": 0}),
                ),
                "09:31:40.118 skip lint sh: test -f x exited 0",
            ),
            (
                line("skip", "plan", json!({"reason": "from"})),
                "09:31:40.118 skip plan --from",
            ),
            (
                line(
                    "iteration_start",
                    "each",
                    json!({"iteration": 1, "item": "src/b.rs"}),
                ),
                "09:31:40.118 iteration_start each iteration 1 src/b.rs",
            ),
            (
                line(
                    "iteration_end",
                    "each",
                    json!({"iteration": 1, "outcome": "success", "duration_ms": 850}),
                ),
                "09:31:40.118 iteration_end each iteration 1 success (850ms)",
            ),
            (
                line(
                    "sub_workflow_start",
                    "validate",
                    json!({"name": "core/run-validator", "source": "builtin:core/run-validator"}),
                ),
                "09:31:40.118 sub_workflow_start validate core/run-validator (builtin:core/run-validator)",
            ),
            (
                line(
                    "sub_workflow_end",
                    "validate",
                    json!({"outcome": "failed", "duration_ms": 61_000}),
                ),
                "09:31:40.118 sub_workflow_end validate failed (1m01s)",
            ),
            (
                line(
                    "session",
                    "fix",
                    json!({"cli": "claude", "session_id": "a71f", "how": "resumed"}),
                ),
                "09:31:40.118 session fix claude a71f (resumed)",
            ),
            (
                line(
                    "control",
                    "talk",
                    json!({"action": "continue", "source": "agent_command", "note": "done"}),
                ),
                "09:31:40.118 control talk continue (agent_command): done",
            ),
            (
                line(
                    "engine",
                    "",
                    json!({"engine": "openspec", "hook": "validate_workflow",
                           "outcome": "rejected", "duration_ms": 120, "message": "no change"}),
                ),
                "09:31:40.118 engine openspec validate_workflow rejected (120ms): no change",
            ),
            (
                line(
                    "warning",
                    "",
                    json!({"code": "changed", "message": "wf.yaml changed"}),
                ),
                "09:31:40.118 warning wf.yaml changed",
            ),
            (
                line(
                    "error",
                    "",
                    json!({"class": "internal", "message": "disk full"}),
                ),
                "09:31:40.118 error internal: disk full",
            ),
            (
                line("interrupt", "fix", json!({"signal": "SIGINT", "count": 2})),
                "09:31:40.118 interrupt fix SIGINT (#2)",
            ),
            (
                line(
                    "lock_takeover",
                    "",
                    json!({"previous_pid": 4242, "previous_host": "mybox"}),
                ),
                "09:31:40.118 lock_takeover from pid 4242 on mybox",
            ),
            (
                line(
                    "worktree",
                    "tasks[2]",
                    json!({"path": "/p/.agent-runner/worktrees/r/2-c", "branch": "agent-runner/r/2-c",
                        "base_commit": "9f3e", "reused": true}),
                ),
                "09:31:40.118 worktree tasks[2] agent-runner/r/2-c reused at /p/.agent-runner/worktrees/r/2-c",
            ),
            (
                line("future_event", "x", json!({"a": 1})),
                "09:31:40.118 future_event x {\"a\":1}",
            ),
        ];
        for (actual, expected) in cases {
            assert_eq!(actual, expected);
        }
    }

    #[test]
    fn unreadable_lines_are_shown_marked_and_redacted() {
        let redactor = Redactor::token_shapes_only().unwrap();
        let garbage = AuditLine {
            raw: "{\"ts\":\"x\", ghp_abcdefghijklmnopqrstuvwxyz0123456789".into(),
            record: None,
        };
        assert_eq!(
            render_line(&garbage, &[], &redactor),
            "--:--:--.--- (unreadable) {\"ts\":\"x\", [REDACTED]"
        );
    }

    fn options(json: bool, follow: bool) -> Options {
        Options {
            json,
            follow,
            poll: Duration::from_millis(10),
        }
    }

    #[test]
    fn text_and_raw_json_from_a_real_log() {
        let f = Fixture::new();
        let run = write_run(&f.project, "w", |doc| {
            doc.status = RunStatus::Completed;
            doc.params.insert("secret".into(), "hunter22".into());
            doc.secret_params = vec!["secret".into()];
        });
        append_events(
            &run,
            &[
                (
                    AuditEvent::RunStart,
                    "",
                    json!({"params": {"secret": "hunter22"}}),
                ),
                (
                    AuditEvent::StepStart,
                    "s",
                    json!({"kind": "shell", "command": "echo hunter22"}),
                ),
                (
                    AuditEvent::StepEnd,
                    "s",
                    json!({"outcome": "success", "duration_ms": 5}),
                ),
            ],
        );
        // A crash cut the last line short.
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(run.audit_path())
            .unwrap();
        std::io::Write::write_all(&mut file, b"{\"ts\":\"2026").unwrap();

        let entry = select_run_in(&f.project, None).unwrap();
        let redactor = redactor_for(entry.state.as_ref().ok(), &[]).unwrap();
        let mut out = Vec::new();
        write_log(&entry, &redactor, &options(false, false), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().map(|l| &l[13..]).collect();
        assert_eq!(
            lines,
            [
                "run_start secret=[REDACTED]",
                "step_start s shell: echo [REDACTED]",
                "step_end s success (5ms)",
                "(unreadable) {\"ts\":\"2026",
            ]
        );
        assert!(
            text.lines()
                .all(|l| l.as_bytes()[2] == b':' && l.as_bytes()[8] == b'.')
        );

        let mut out = Vec::new();
        write_log(&entry, &redactor, &options(true, false), &mut out).unwrap();
        // The raw lines, with a secret the writer missed (a short one) hidden all the same.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            fs::read_to_string(run.audit_path())
                .unwrap()
                .replace("hunter22", REDACTED)
                + "\n"
        );
        assert_eq!(read_audit(&run.audit_path()).unwrap().len(), 4);
    }

    #[test]
    fn missing_log_prints_nothing() {
        let f = Fixture::new();
        write_run(&f.project, "w", |_| {});
        let entry = select_run_in(&f.project, None).unwrap();
        let redactor = Redactor::token_shapes_only().unwrap();
        let mut out = Vec::new();
        write_log(&entry, &redactor, &options(false, true), &mut out).unwrap();
        assert!(out.is_empty());
    }

    /// A run whose lock this process holds, with a `run_start` in its log.
    fn live_run(f: &Fixture) -> (crate::state::RunLock, RunEntry) {
        let run = write_run(&f.project, "w", |_| {});
        let (lock, _) = run.lock().unwrap();
        append_events(&run, &[(AuditEvent::RunStart, "", json!({}))]);
        (lock, select_run_in(&f.project, None).unwrap())
    }

    #[test]
    fn follow_reads_until_the_lock_is_released() {
        let f = Fixture::new();
        let (lock, entry) = live_run(&f);
        let writer_run = entry.run.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(60));
            append_events(
                &writer_run,
                &[(AuditEvent::StepStart, "a", json!({"kind": "group"}))],
            );
            std::thread::sleep(Duration::from_millis(60));
            append_events(
                &writer_run,
                &[(AuditEvent::RunEnd, "", json!({"outcome": "completed"}))],
            );
            lock.release().unwrap();
        });
        let redactor = Redactor::token_shapes_only().unwrap();
        let mut out = Vec::new();
        write_log(&entry, &redactor, &options(false, true), &mut out).unwrap();
        writer.join().unwrap();
        let text = String::from_utf8(out).unwrap();
        let events: Vec<&str> = text.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
        assert_eq!(events, ["run_start", "step_start", "run_end"]);
    }

    /// A reader that went away (`agent-runner log | head`).
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn closed_pipe_ends_quietly_even_while_following() {
        let f = Fixture::new();
        let (lock, entry) = live_run(&f);
        let redactor = Redactor::token_shapes_only().unwrap();
        write_log(&entry, &redactor, &options(false, true), &mut ClosedPipe).unwrap();
        lock.release().unwrap();
    }
}
