//! The end of a run: final state, `run_end`, the console summary and the exit code.

use serde_json::json;

use super::dispatcher::Dispatcher;
use super::error::RunError;
use super::outcome::End;
use crate::console::{eprint_line, format};
use crate::exit;
use crate::state::{AuditEvent, Frame, FrameState, RunStatus};

/// Writes the final state and events for how the run ended and returns the exit code.
pub fn finish(d: &mut Dispatcher, end: Result<End, RunError>, workflow_name: &str) -> i32 {
    let duration = d.started.elapsed();
    let (outcome, code) = match &end {
        Ok(End::Success | End::Break) => ("completed", exit::SUCCESS),
        Ok(End::Failed(failure)) => ("failed", failure.class.exit_code()),
        Ok(End::Interrupted) => ("interrupted", exit::INTERRUPTED),
        Err(fatal) => ("failed", fatal.exit_code()),
    };
    match &end {
        Ok(End::Success | End::Break) => {
            d.doc.status = RunStatus::Completed;
            d.doc.completed = true;
            d.doc.position = None;
        }
        Ok(End::Interrupted) => {
            d.doc.status = RunStatus::Interrupted;
            if let Some(position) = d.doc.position.as_mut() {
                mark_interrupted(position);
            }
            let signal = d.signal_name();
            let count = d.interrupts.count();
            let _ = d.audit(
                AuditEvent::Interrupt,
                "",
                json!({"signal": signal, "count": count}),
            );
        }
        Ok(End::Failed(_)) => d.doc.status = RunStatus::Failed,
        Err(fatal) => {
            d.doc.status = RunStatus::Failed;
            let _ = d.audit(
                AuditEvent::Error,
                "",
                json!({"class": "internal", "message": fatal.to_string()}),
            );
        }
    }
    let counts = d.counts;
    let usage = d.usage.to_json();
    let run_end = json!({
        "outcome": outcome,
        "exit_code": code,
        "duration_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        "counts": {"ok": counts.ok, "skipped": counts.skipped, "failed_continued": counts.failed_continued},
        "usage": usage,
    });
    let saved = d
        .audit(AuditEvent::RunEnd, "", run_end)
        .and_then(|_| d.save());
    let resume_hint = format!("to resume: agent-runner --resume {}", d.doc.run_id);
    if let Err(fatal) = saved {
        crate::console::error(&fatal.to_string());
        return fatal.exit_code();
    }
    match end {
        Ok(End::Success | End::Break) => {
            eprint_line(&format!(
                "agent-runner: workflow \"{workflow_name}\" completed in {} ({} ok, {} skipped, {} failed but continued)",
                format::duration(duration),
                counts.ok,
                counts.skipped,
                counts.failed_continued
            ));
            if let Some(line) = d.usage.summary_line() {
                eprint_line(&line);
            }
        }
        Ok(End::Failed(failure)) => {
            eprint_line("");
            let display = failure.display.as_deref().unwrap_or("?");
            let reason = d.redactor.redact(&failure.message).into_owned();
            eprint_line(&format!(
                "agent-runner: step \"{display}\" failed: {reason}"
            ));
            eprint_line(&resume_hint);
        }
        Ok(End::Interrupted) => {
            eprint_line("");
            eprint_line("agent-runner: interrupted; state saved");
            eprint_line(&resume_hint);
        }
        Err(fatal) => {
            crate::console::error(&fatal.to_string());
            if fatal.exit_code() != exit::INVALID {
                eprint_line(&resume_hint);
            }
        }
    }
    code
}

/// Every frame that was running becomes `interrupted`.
fn mark_interrupted(frame: &mut Frame) {
    let mut current = Some(frame);
    while let Some(frame) = current {
        if frame.state == FrameState::Running {
            frame.state = FrameState::Interrupted;
        }
        current = frame.child.as_deref_mut();
    }
}
