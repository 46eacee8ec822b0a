//! The end of a run: final state, `run_end`, the console summary and the exit code.

use super::super::error::RunError;
use super::super::outcome::End;
use super::walk::Runtime;
use crate::console::{eprint_line, format};
use crate::error::ErrorClass;
use crate::exit;
use crate::state::{AuditData, ErrorRecord, FrameState, Interrupt, RunEnd, RunOutcome, RunStatus};

/// Writes the final state and events for how the run ended and returns the exit code.
pub fn finish(d: &mut Runtime, end: Result<End, RunError>, workflow_name: &str) -> i32 {
    let duration = d.started.elapsed();
    let (outcome, code) = match &end {
        Ok(End::Success | End::Break) => (RunOutcome::Completed, exit::SUCCESS),
        Ok(End::Failed(failure)) => (RunOutcome::Failed, failure.class.exit_code()),
        Ok(End::Interrupted) => (RunOutcome::Interrupted, exit::INTERRUPTED),
        Err(fatal) => (RunOutcome::Failed, fatal.exit_code()),
    };
    let signal = d.signal_name();
    let count = d.interrupts.count();
    let mut writer = d.writer();
    let w = &mut *writer;
    // The last step's end line comes out with the run's end records, once they are on disk
    // ([`Writer::compact`]): one flush for both.
    match &end {
        Ok(End::Success | End::Break) => {
            let doc = w.doc_mut();
            doc.status = RunStatus::Completed;
            doc.completed = true;
            doc.position = None;
        }
        Ok(End::Interrupted) => {
            let doc = w.doc_mut();
            doc.status = RunStatus::Interrupted;
            if let Some(position) = doc.position.as_mut() {
                position.walk_mut(&mut |frame| {
                    if frame.state == FrameState::Running {
                        frame.state = FrameState::Interrupted;
                    }
                });
            }
            let interrupt = Interrupt {
                signal: Some(signal.to_owned()),
                count: Some(count as u64),
            };
            let _ = w.record("", &AuditData::Interrupt(interrupt));
        }
        Ok(End::Failed(_)) => w.doc_mut().status = RunStatus::Failed,
        Err(fatal) => {
            w.doc_mut().status = RunStatus::Failed;
            let error = ErrorRecord {
                class: Some(ErrorClass::Internal),
                message: Some(fatal.to_string()),
            };
            let _ = w.record("", &AuditData::Error(error));
        }
    }
    let counts = w.counts();
    let run_end = RunEnd {
        outcome: Some(outcome),
        exit_code: Some(i64::from(code)),
        duration_ms: Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)),
        counts: Some(counts),
        usage: w.usage().to_record(),
    };
    let saved = w
        .record("", &AuditData::RunEnd(run_end))
        .and_then(|_| w.save_later())
        .and_then(|()| w.compact());
    // A simulation's state is removed when it ends: there is nothing to resume.
    let resume_hint = match d.settings.simulate {
        Some(_) => "(a simulation: nothing was run, and its state is not kept)".to_owned(),
        None => format!("to resume: agent-runner --resume {}", w.doc().run_id),
    };
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
            if let Some(line) = w.usage().summary_line() {
                eprint_line(&line);
            }
        }
        Ok(End::Failed(failure)) => {
            eprint_line("");
            let display = failure.display.as_deref().unwrap_or("?");
            // eprint_line redacts the whole line.
            eprint_line(&format!(
                "agent-runner: step \"{display}\" failed: {}",
                super::step::shown_message(&failure)
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
