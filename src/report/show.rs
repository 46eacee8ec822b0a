//! `agent-runner show`: the summary of one run — identity, status, position, params, a table of
//! the steps that ran, output files, total usage and the resume hint.
//!
//! The step table is rebuilt from the audit log, not from state.json: state only knows where the
//! run is, the log knows everything that happened, across resumes. Each `step_start` opens a row
//! (a step that runs again after a resume gets a new row), the next `step_end` with the same path
//! closes it, and a `skip` is a row of its own. A row still open at the end of the log is the step
//! that is running, or that was running when the run stopped.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::table::Table;
use super::{
    ReportError, get_f64, get_str, get_u64, one_line, path_string, redactor_for, short_time,
    shown_params, skip_reason_label,
};
use crate::console::format;
use crate::state::{
    AuditData, AuditRecord, LastFailure, Redactor, RunEntry, RunStatus, StateDoc, StepEnd,
    StepOutcome, StringMap, duration_ms_between, read_audit,
};

/// What `show` reports about a run. Every string is already redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub run_id: String,
    pub workflow: String,
    pub source: String,
    pub project: String,
    pub status: RunStatus,
    pub position: Option<String>,
    /// Every running branch's path when several parallel branches are going on (control.md §11).
    pub branches: Vec<String>,
    pub params: StringMap,
    pub started_at: String,
    pub updated_at: String,
    pub duration_ms: Option<u64>,
    pub last_failure: Option<LastFailure>,
    pub run_dir: String,
    pub locked_by_pid: Option<u32>,
    pub steps: Vec<StepRow>,
    pub usage: UsageTotals,
    /// The git worktrees of the run's parallel branches.
    pub worktrees: Vec<super::worktrees::WorktreeRow>,
}

impl RunReport {
    /// `agent-runner --resume <id>` when the run can be resumed (failed or interrupted).
    pub fn resume_command(&self) -> Option<String> {
        matches!(self.status, RunStatus::Failed | RunStatus::Interrupted)
            .then(|| format!("agent-runner --resume {}", self.run_id))
    }
}

/// One step execution (or skip) from the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepRow {
    pub path: String,
    pub kind: Option<String>,
    pub cli: Option<String>,
    pub model: Option<String>,
    pub session_id: Option<String>,
    pub session_strategy: Option<String>,
    /// `success`, `failed`, `interrupted`, `skipped`…; for a row without `step_end`, `running`
    /// while the run is live and `interrupted` otherwise.
    pub outcome: String,
    /// A failure that `continue_on_failure` let through.
    pub continued: bool,
    /// Why the step was skipped (console wording), for skip rows.
    pub skip_reason: Option<String>,
    pub started_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub exit_code: Option<i64>,
    /// The `step_end` usage object with `cost_usd` added, for agent steps that report usage.
    pub usage: Option<Value>,
    /// `{class, message}` of a failure.
    pub error: Option<Value>,
    /// Output files, relative to the run dir.
    pub outputs: Vec<String>,
    /// How many tool calls the agent's CLI denied.
    pub denied: Option<u64>,
}

impl StepRow {
    fn tokens(&self, key: &str) -> u64 {
        self.usage
            .as_ref()
            .and_then(|u| get_u64(u, key))
            .unwrap_or(0)
    }

    fn cost_usd(&self) -> Option<f64> {
        self.usage.as_ref().and_then(|u| get_f64(u, "cost_usd"))
    }

    fn error_message(&self) -> Option<&str> {
        self.error.as_ref().and_then(|e| get_str(e, "message"))
    }
}

/// Usage summed over the agent steps of the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageTotals {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    /// The sum of the known costs; `None` when no step reported one.
    pub cost_usd: Option<f64>,
    /// Agent steps that reported usage.
    pub steps: usize,
    /// Of those, the ones without a cost.
    pub steps_without_cost: usize,
}

impl UsageTotals {
    fn add(&mut self, row: &StepRow) {
        if row.usage.is_none() {
            return;
        }
        self.steps += 1;
        self.input_tokens += row.tokens("input_tokens");
        self.cached_input_tokens += row.tokens("cached_input_tokens");
        self.output_tokens += row.tokens("output_tokens");
        match row.cost_usd() {
            Some(cost) => self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost),
            None => self.steps_without_cost += 1,
        }
    }
}

/// Reads the run's audit log and builds its report. An unreadable state.json is the error
/// (exit 3); a missing audit log just means no steps yet.
pub fn gather(entry: RunEntry, env: &[(String, String)]) -> Result<RunReport, ReportError> {
    let RunEntry {
        run,
        state,
        status,
        lock_holder,
        ..
    } = entry;
    let doc = state?;
    let redactor = redactor_for(Some(&doc), env)?;
    let audit_path = run.audit_path();
    let records: Vec<AuditRecord> = if audit_path.exists() {
        read_audit(&audit_path)?
            .into_iter()
            .filter_map(|line| line.record)
            .collect()
    } else {
        Vec::new()
    };
    let status = status.unwrap_or(doc.status);
    Ok(build(
        &doc,
        status,
        &path_string(run.path()),
        lock_holder.map(|info| info.pid),
        records,
        &redactor,
    ))
}

/// The report of a run from its state, effective status and audit events.
pub fn build(
    doc: &StateDoc,
    status: RunStatus,
    run_dir: &str,
    locked_by_pid: Option<u32>,
    mut records: Vec<AuditRecord>,
    redactor: &Redactor,
) -> RunReport {
    for record in &mut records {
        record.path = redactor.redact(&record.path).into_owned();
        redactor.redact_json(&mut record.data);
    }
    let steps = steps_from_audit(&records, status == RunStatus::Running);
    let mut usage = UsageTotals::default();
    steps.iter().for_each(|row| usage.add(row));
    let redact = |s: &str| redactor.redact(s).into_owned();
    RunReport {
        run_id: doc.run_id.clone(),
        workflow: redact(&doc.workflow.name),
        source: redact(&doc.workflow.source),
        project: redact(&doc.project_dir),
        status,
        position: doc.position_path().map(|p| redact(&p)),
        branches: match doc.position_paths() {
            paths if paths.len() > 1 => paths.iter().map(|p| redact(p)).collect(),
            _ => Vec::new(),
        },
        params: shown_params(doc, redactor),
        started_at: doc.created_at.clone(),
        updated_at: doc.updated_at.clone(),
        duration_ms: duration_ms_between(&doc.created_at, &doc.updated_at),
        last_failure: doc.last_failure.as_ref().map(|f| LastFailure {
            path: redact(&f.path),
            class: f.class,
            message: redact(&f.message),
        }),
        run_dir: run_dir.to_owned(),
        locked_by_pid,
        worktrees: super::worktrees::from_audit(&records),
        steps,
        usage,
    }
}

/// The step rows of an audit log, in the order the steps started. `live` says whether the run
/// is still going, which decides how a step without `step_end` reads.
pub fn steps_from_audit(records: &[AuditRecord], live: bool) -> Vec<StepRow> {
    let mut rows: Vec<StepRow> = Vec::new();
    let mut open: HashMap<&str, usize> = HashMap::new();
    for record in records {
        match record.typed() {
            AuditData::StepStart(start) => {
                open.insert(&record.path, rows.len());
                rows.push(StepRow {
                    path: record.path.clone(),
                    kind: start.kind.map(|k| k.as_str().to_owned()),
                    cli: start.cli,
                    model: start.model.flatten(),
                    session_id: start.session_id.flatten(),
                    session_strategy: start.session_strategy.map(|s| s.to_string()),
                    started_at: Some(record.ts.clone()),
                    ..StepRow::default()
                });
            }
            AuditData::StepEnd(end) => {
                let index = match open.remove(record.path.as_str()) {
                    Some(index) => index,
                    // The start is missing (a damaged log): the end still deserves a row.
                    None => {
                        rows.push(StepRow {
                            path: record.path.clone(),
                            ..StepRow::default()
                        });
                        rows.len() - 1
                    }
                };
                end_row(&mut rows[index], end);
            }
            AuditData::Skip(skip) => rows.push(StepRow {
                path: record.path.clone(),
                outcome: "skipped".to_owned(),
                skip_reason: Some(skip_reason_label(&skip)),
                started_at: Some(record.ts.clone()),
                ..StepRow::default()
            }),
            AuditData::Session(session) => {
                if let Some(&index) = open.get(record.path.as_str())
                    && let Some(id) = session.session_id
                {
                    rows[index].session_id = Some(id);
                }
            }
            _ => {}
        }
    }
    let unfinished = if live { "running" } else { "interrupted" };
    for index in open.into_values() {
        rows[index].outcome = unfinished.to_owned();
    }
    rows
}

fn end_row(row: &mut StepRow, end: StepEnd) {
    row.outcome = end
        .outcome
        .map_or("unknown", StepOutcome::as_str)
        .to_owned();
    row.continued = end.continued == Some(true);
    row.duration_ms = end.duration_ms;
    row.exit_code = end.exit_code.flatten();
    if let Some(id) = end.session_id.flatten() {
        row.session_id = Some(id);
    }
    row.error = end.error.map(|e| json!(e));
    row.outputs = end.outputs.unwrap_or_default();
    row.denied = end.denied;
    let cost = end.cost_usd.flatten();
    row.usage = match (end.usage, cost) {
        (Some(usage), cost) => {
            let mut usage = json!(usage);
            if let Some(map) = usage.as_object_mut() {
                map.insert("cost_usd".to_owned(), json!(cost));
            }
            Some(usage)
        }
        (None, Some(cost)) => Some(json!({"cost_usd": cost})),
        (None, None) => None,
    };
}

/// The report as text.
pub fn render_text(report: &RunReport) -> String {
    let mut out = String::new();
    let mut field = |label: &str, value: &str| {
        out.push_str(&format!("{:<10}{value}\n", format!("{label}:")));
    };
    field("run", &report.run_id);
    field("workflow", &one_line(&report.workflow, 200));
    field("source", &one_line(&report.source, 200));
    field("project", &one_line(&report.project, 200));
    let status = match report.locked_by_pid {
        Some(pid) => format!("{} (pid {pid})", report.status),
        None => report.status.to_string(),
    };
    field("status", &status);
    field(
        "position",
        &report
            .position
            .as_deref()
            .map_or_else(|| "-".to_owned(), |p| one_line(p, 200)),
    );
    field("started", &short_time(&report.started_at));
    field("updated", &short_time(&report.updated_at));
    if let Some(ms) = report.duration_ms {
        field("duration", &format::duration(Duration::from_millis(ms)));
    }
    let params = if report.params.is_empty() {
        "(none)".to_owned()
    } else {
        let pairs: Vec<String> = report
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", one_line(v, 80)))
            .collect();
        pairs.join(", ")
    };
    field("params", &params);
    if let Some(failure) = &report.last_failure {
        field(
            "failure",
            &format!(
                "{}: {} ({})",
                one_line(&failure.path, 200),
                one_line(&failure.message, 200),
                failure.class
            ),
        );
    }
    field("run dir", &report.run_dir);
    out.push('\n');

    if report.steps.is_empty() {
        out.push_str("no steps have run yet\n");
    } else {
        out.push_str(&step_table(&report.steps));
    }

    let outputs: Vec<&String> = report.steps.iter().flat_map(|s| &s.outputs).collect();
    if !outputs.is_empty() {
        out.push_str("\noutput files:\n");
        for output in outputs {
            out.push_str(&format!("  {}\n", one_line(output, usize::MAX)));
        }
    }
    out.push_str(&super::worktrees::render_text(&report.worktrees));
    if report.usage.steps > 0 {
        let totals = &report.usage;
        let mut line = format!(
            "\nusage: {} input / {} output tokens",
            format::tokens(totals.input_tokens),
            format::tokens(totals.output_tokens)
        );
        if let Some(cost) = totals.cost_usd {
            line.push_str(&format!(", {}", format::cost(cost)));
        }
        if totals.steps_without_cost > 0 {
            line.push_str(&format!(
                " (cost unknown for {} steps)",
                totals.steps_without_cost
            ));
        }
        out.push_str(&line);
        out.push('\n');
        out.push_str(&super::models::text(&report.steps));
    }
    if let Some(command) = report.resume_command() {
        out.push_str(&format!("\nto resume: {command}\n"));
    }
    out
}

fn step_table(steps: &[StepRow]) -> String {
    let mut table = Table::new([
        "STEP", "KIND", "OUTCOME", "DURATION", "TOKENS", "COST", "SESSION",
    ]);
    for step in steps {
        let kind = match (&step.kind, &step.cli, &step.model) {
            (kind, Some(cli), Some(model)) => {
                format!("{} {cli}/{model}", kind.as_deref().unwrap_or("agent"))
            }
            (kind, Some(cli), None) => format!("{} {cli}", kind.as_deref().unwrap_or("agent")),
            (Some(kind), None, _) => kind.clone(),
            (None, None, _) => "-".to_owned(),
        };
        let mut outcome = step.outcome.clone();
        if let Some(reason) = &step.skip_reason {
            outcome.push_str(&format!(": {reason}"));
        } else if let Some(message) = step.error_message() {
            outcome.push_str(&format!(": {message}"));
        }
        if step.continued {
            outcome.push_str(" (continued)");
        }
        match step.denied {
            Some(1) => outcome.push_str(" (1 tool call denied)"),
            Some(n) if n > 1 => outcome.push_str(&format!(" ({n} tool calls denied)")),
            _ => {}
        }
        let tokens = step.usage.as_ref().map_or_else(
            || "-".to_owned(),
            |_| {
                format!(
                    "{} in / {} out",
                    format::tokens(step.tokens("input_tokens")),
                    format::tokens(step.tokens("output_tokens"))
                )
            },
        );
        table.push(vec![
            one_line(&step.path, 80),
            one_line(&kind, 40),
            one_line(&outcome, 60),
            step.duration_ms.map_or_else(
                || "-".to_owned(),
                |ms| format::duration(Duration::from_millis(ms)),
            ),
            tokens,
            step.cost_usd().map_or_else(|| "-".to_owned(), format::cost),
            step.session_id
                .as_deref()
                .map_or_else(|| "-".to_owned(), |s| one_line(s, 80)),
        ]);
    }
    table.render()
}

/// The report in the `show --json` shape of cli.md §9.
pub fn render_json(report: &RunReport) -> Value {
    let steps: Vec<Value> = report
        .steps
        .iter()
        .map(|step| {
            let mut value = json!({
                "path": step.path,
                "kind": step.kind,
                "cli": step.cli,
                "model": step.model,
                "session_id": step.session_id,
                "session_strategy": step.session_strategy,
                "outcome": step.outcome,
                "started_at": step.started_at,
                "duration_ms": step.duration_ms,
                "exit_code": step.exit_code,
                "usage": step.usage,
                "error": step.error,
                "outputs": step.outputs,
            });
            // Only steps whose CLI denied tool calls have the count (control.md §3).
            if let (Some(denied), Some(map)) = (step.denied, value.as_object_mut()) {
                map.insert("denied".to_owned(), json!(denied));
            }
            value
        })
        .collect();
    let totals = &report.usage;
    json!({
        "format_version": 1,
        "run_id": report.run_id,
        "workflow": report.workflow,
        "source": report.source,
        "project": report.project,
        "status": report.status.as_str(),
        // A list when several parallel branches are running.
        "position": if report.branches.is_empty() {
            json!(report.position)
        } else {
            json!(report.branches)
        },
        "params": report.params,
        "started_at": report.started_at,
        "updated_at": report.updated_at,
        "duration_ms": report.duration_ms,
        "usage": {
            "input_tokens": totals.input_tokens,
            "cached_input_tokens": totals.cached_input_tokens,
            "output_tokens": totals.output_tokens,
            // Micro-dollars are plenty, and rounding keeps float noise out of the sum.
            "cost_usd": totals.cost_usd.map(|c| (c * 1e6).round() / 1e6),
            "cost_complete": totals.steps_without_cost == 0,
            "models": super::models::json(&report.steps),
        },
        "steps": steps,
        "worktrees": super::worktrees::render_json(&report.worktrees),
        "run_dir": report.run_dir,
        "locked_by_pid": report.locked_by_pid,
        "resume_command": report.resume_command(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::select_run_in;
    use crate::report::testutil::{Fixture, append_events, write_run};
    use crate::state::{AuditEvent, Frame, FrameState, RunDir};
    use pretty_assertions::assert_eq;

    const SESSION: &str = "5b0f6c1e-2d4f-4d5e-9a53-0f2a7c3f9e21";

    /// A failed run: a shell step with outputs, a skip, an agent step with usage and cost, and
    /// a loop whose test step failed and stopped the run.
    fn failed_run(f: &Fixture) -> RunDir {
        let run = write_run(&f.project, "fix-tests", |doc| {
            doc.status = RunStatus::Failed;
            doc.created_at = "2026-11-21T10:15:00.000Z".into();
            doc.updated_at = "2026-11-21T10:19:05.500Z".into();
            doc.params.insert("target".into(), "auth".into());
            doc.params.insert("token".into(), "abcd1234".into());
            doc.secret_params = vec!["token".into()];
            let mut test = Frame::pending(0, "test");
            test.state = FrameState::Failed;
            let mut attempts = Frame::pending(3, "attempts");
            attempts.state = FrameState::Failed;
            attempts.child = Some(Box::new(test));
            doc.position = Some(attempts);
            doc.last_failure = Some(LastFailure {
                path: "attempts/test".into(),
                class: crate::error::ErrorClass::ExitStatus,
                message: "exit status 101".into(),
            });
        });
        append_events(
            &run,
            &[
                (
                    AuditEvent::RunStart,
                    "",
                    json!({"workflow": {"name": "fix-tests"}}),
                ),
                (
                    AuditEvent::StepStart,
                    "build",
                    json!({"kind": "shell", "attempt": 1, "command": "make TOKEN=abcd1234"}),
                ),
                (
                    AuditEvent::StepEnd,
                    "build",
                    json!({"outcome": "success", "duration_ms": 850, "exit_code": 0,
                           "error": null,
                           "outputs": ["output/0002-build.stdout", "output/0002-build.stderr"]}),
                ),
                (
                    AuditEvent::Skip,
                    "lint",
                    json!({"reason": "previous_success"}),
                ),
                (
                    AuditEvent::StepStart,
                    "plan",
                    json!({"kind": "headless", "mode": "headless", "cli": "claude",
                           "model": "opus", "session_strategy": "new", "session_id": null}),
                ),
                (
                    AuditEvent::Session,
                    "plan",
                    json!({"cli": "claude", "session_id": SESSION, "how": "stream"}),
                ),
                (
                    AuditEvent::StepEnd,
                    "plan",
                    json!({"outcome": "success", "duration_ms": 130_000, "exit_code": 0,
                           "usage": {"input_tokens": 41_200, "cached_input_tokens": 40_000,
                                     "output_tokens": 3_100},
                           "cost_usd": 0.22,
                           "outputs": ["output/0006-plan.txt"]}),
                ),
                (
                    AuditEvent::StepStart,
                    "attempts",
                    json!({"kind": "loop", "loop_kind": "counted", "max": 3}),
                ),
                (
                    AuditEvent::StepStart,
                    "attempts[0]/fix",
                    json!({"kind": "headless", "cli": "codex", "session_strategy": "resume"}),
                ),
                (
                    AuditEvent::StepEnd,
                    "attempts[0]/fix",
                    json!({"outcome": "success", "duration_ms": 12_345, "session_id": "th-1",
                           "usage": {"input_tokens": 1_000, "output_tokens": 200},
                           "cost_usd": null}),
                ),
                (
                    AuditEvent::StepStart,
                    "attempts[0]/test",
                    json!({"kind": "shell", "command": "cargo test"}),
                ),
                (
                    AuditEvent::StepEnd,
                    "attempts[0]/test",
                    json!({"outcome": "failed", "duration_ms": 14_210, "exit_code": 101,
                           "error": {"class": "exit_status", "message": "exit status 101"}}),
                ),
                (
                    AuditEvent::StepEnd,
                    "attempts",
                    json!({"outcome": "failed", "duration_ms": 14_300, "iterations": 1,
                           "error": {"class": "exit_status", "message": "exit status 101"}}),
                ),
            ],
        );
        run
    }

    fn report_of(f: &Fixture, run: &RunDir) -> RunReport {
        let entry = select_run_in(&f.project, Some(run.id())).unwrap();
        gather(entry, &[]).unwrap()
    }

    #[test]
    fn text_report() {
        let f = Fixture::new();
        let run = failed_run(&f);
        let report = report_of(&f, &run);
        let expected = format!(
            "\
run:      {id}
workflow: fix-tests
source:   builtin:fix-tests
project:  {project}
status:   failed
position: attempts/test
started:  2026-11-21 10:15
updated:  2026-11-21 10:19
duration: 4m05s
params:   target=auth, token=[REDACTED]
failure:  attempts/test: exit status 101 (exit_status)
run dir:  {dir}

STEP              KIND                  OUTCOME                           DURATION  TOKENS               COST   SESSION
build             shell                 success                           850ms     -                    -      -
lint              -                     skipped: previous step succeeded  -         -                    -      -
plan              headless claude/opus  success                           2m10s     41.2k in / 3.1k out  $0.22  {SESSION}
attempts          loop                  failed: exit status 101           14.3s     -                    -      -
attempts[0]/fix   headless codex        success                           12.3s     1k in / 200 out      -      th-1
attempts[0]/test  shell                 failed: exit status 101           14.2s     -                    -      -

output files:
  output/0002-build.stdout
  output/0002-build.stderr
  output/0006-plan.txt

usage: 42.2k input / 3.3k output tokens, $0.22 (cost unknown for 1 steps)

to resume: agent-runner --resume {id}
",
            id = run.id(),
            project = f.project_path(),
            dir = run.path().display(),
        );
        assert_eq!(render_text(&report), expected);
    }

    #[test]
    fn json_report() {
        let f = Fixture::new();
        let run = failed_run(&f);
        let json = render_json(&report_of(&f, &run));
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "format_version",
                "run_id",
                "workflow",
                "source",
                "project",
                "status",
                "position",
                "params",
                "started_at",
                "updated_at",
                "duration_ms",
                "usage",
                "steps",
                "worktrees",
                "run_dir",
                "locked_by_pid",
                "resume_command",
            ]
        );
        assert_eq!(json["status"], "failed");
        assert_eq!(json["position"], "attempts/test");
        assert_eq!(
            json["params"],
            json!({"target": "auth", "token": "[REDACTED]"})
        );
        assert_eq!(json["duration_ms"], 245_500);
        assert_eq!(
            json["usage"],
            json!({"input_tokens": 42_200, "cached_input_tokens": 40_000,
                   "output_tokens": 3_300, "cost_usd": 0.22, "cost_complete": false,
                   "models": {}})
        );
        assert_eq!(
            json["resume_command"],
            format!("agent-runner --resume {}", run.id())
        );
        let steps = json["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 6);
        let plan = &steps[2];
        assert_eq!(
            *plan,
            json!({
                "path": "plan", "kind": "headless", "cli": "claude", "model": "opus",
                "session_id": SESSION, "session_strategy": "new", "outcome": "success",
                "started_at": plan["started_at"], "duration_ms": 130_000, "exit_code": 0,
                "usage": {"input_tokens": 41_200, "cached_input_tokens": 40_000,
                          "output_tokens": 3_100, "cost_usd": 0.22},
                "error": null, "outputs": ["output/0006-plan.txt"],
            })
        );
        assert!(plan["started_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(steps[1]["outcome"], "skipped");
        assert_eq!(steps[0]["usage"], Value::Null);
        assert_eq!(
            steps[5]["error"],
            json!({"class": "exit_status", "message": "exit status 101"})
        );
        assert_eq!(steps[5]["exit_code"], 101);
    }

    #[test]
    fn completed_run_without_audit_has_no_hint() {
        let f = Fixture::new();
        let run = write_run(&f.project, "w", |doc| {
            doc.status = RunStatus::Completed;
            doc.completed = true;
        });
        let report = report_of(&f, &run);
        let text = render_text(&report);
        assert!(text.contains("\nposition: -\n"), "{text}");
        assert!(text.contains("\nparams:   (none)\n"), "{text}");
        assert!(text.ends_with("\n\nno steps have run yet\n"), "{text}");
        let json = render_json(&report);
        assert_eq!(json["resume_command"], Value::Null);
        assert_eq!(json["steps"], json!([]));
        assert_eq!(json["usage"]["cost_usd"], Value::Null);
        assert_eq!(json["usage"]["cost_complete"], true);
    }

    #[test]
    fn unfinished_steps_read_running_or_interrupted() {
        let start = |path: &str| AuditRecord {
            ts: "2026-11-21T10:00:00.000Z".into(),
            seq: 1,
            run_id: "r-1".into(),
            event: "step_start".into(),
            path: path.into(),
            data: json!({"kind": "interactive", "cli": "claude"}),
        };
        let mut session = start("talk");
        session.event = "session".into();
        session.data = json!({"cli": "claude", "session_id": "s-9", "how": "preassigned"});
        let records = [start("talk"), session];
        let live = steps_from_audit(&records, true);
        assert_eq!(live[0].outcome, "running");
        assert_eq!(live[0].session_id.as_deref(), Some("s-9"));
        assert_eq!(steps_from_audit(&records, false)[0].outcome, "interrupted");
    }

    #[test]
    fn a_live_run_shows_its_pid_and_no_hint() {
        let f = Fixture::new();
        let run = write_run(&f.project, "w", |_| {});
        let (lock, _) = run.lock().unwrap();
        let report = report_of(&f, &run);
        assert_eq!(report.status, RunStatus::Running);
        let text = render_text(&report);
        let status_line = format!("\nstatus:   running (pid {})\n", std::process::id());
        assert!(text.contains(&status_line), "{text}");
        assert!(!text.contains("to resume"), "{text}");
        lock.release().unwrap();
        let report = report_of(&f, &run);
        assert_eq!(report.status, RunStatus::Interrupted);
        assert!(
            render_text(&report)
                .ends_with(&format!("to resume: agent-runner --resume {}\n", run.id()))
        );
    }

    #[test]
    fn errors_carry_their_exit_codes() {
        let f = Fixture::new();
        let run = write_run(&f.project, "w", |_| {});
        std::fs::write(run.state_path(), "[]").unwrap();
        let entry = select_run_in(&f.project, Some(run.id())).unwrap();
        let err = gather(entry, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "state of run {} is unreadable ({}: not a JSON object); the file was left as it is",
                run.id(),
                run.state_path().display()
            )
        );
        assert_eq!(err.exit_code(), crate::exit::INVALID);
        assert_eq!(std::fs::read(run.state_path()).unwrap(), b"[]");

        std::fs::write(run.state_path(), r#"{"format_version": 9}"#).unwrap();
        let entry = select_run_in(&f.project, Some(run.id())).unwrap();
        assert_eq!(
            gather(entry, &[]).unwrap_err().exit_code(),
            crate::exit::INVALID
        );

        let err = select_run_in(&f.project, Some("nope-1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no run \"nope-1\" in this project (see \"agent-runner list\")"
        );
        assert_eq!(err.exit_code(), crate::exit::USAGE);
        let err = select_run_in(&f.project, Some("../etc")).unwrap_err();
        assert_eq!(err.to_string(), "invalid run id \"../etc\"");
        assert_eq!(err.exit_code(), crate::exit::USAGE);

        let empty = Fixture::new();
        let err = select_run_in(&empty.project, None).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::USAGE);
    }
}
