use serde_json::json;

use super::*;
use crate::error::ErrorClass;

#[test]
fn the_spec_example_lines_read_as_typed_records() {
    let start = json!({"workflow": {"name": "flokay", "source": "builtin:flokay", "hash": "sha256:9f"},
        "params": {"change_name": "add-login"}, "project_dir": "/home/u/src/app",
        "agent_runner_version": "0.1.0", "resumed": false, "resume_from": null, "from": null,
        "seed_session": null});
    let AuditData::RunStart(run) = AuditData::parse("run_start", &start) else {
        panic!("not a run_start");
    };
    assert_eq!(run.workflow.unwrap().name.as_deref(), Some("flokay"));
    assert_eq!(run.resumed, Some(false));

    let end = json!({"outcome": "failed", "duration_ms": 14210, "exit_code": 101, "signal": null,
        "error": {"class": "exit_status", "message": "exit status 101"},
        "capture": {"name": "validator_output", "bytes": 5120}, "outputs": ["output/a.stdout"],
        "continued": true});
    let AuditData::StepEnd(step) = AuditData::parse("step_end", &end) else {
        panic!("not a step_end");
    };
    assert_eq!(step.outcome, Some(StepOutcome::Failed));
    assert_eq!(step.exit_code, Some(Some(101)));
    assert_eq!(step.signal, Some(None));
    assert_eq!(step.error.unwrap().class, Some(ErrorClass::ExitStatus));
    assert_eq!(step.continued, Some(true));
}

#[test]
fn writing_keeps_the_keys_of_each_kind_and_nothing_else() {
    let shell = StepStart {
        kind: Some(StepKindName::Shell),
        attempt: Some(1),
        command: Some("make".into()),
        workdir: Some(None),
        ..StepStart::default()
    };
    assert_eq!(
        AuditData::StepStart(shell).to_value(),
        json!({"kind": "shell", "attempt": 1, "command": "make", "workdir": null})
    );
    let skip = Skip::because(SkipReason::PreviousSuccess);
    assert_eq!(
        AuditData::Skip(skip).to_value(),
        json!({"reason": "previous_success"})
    );
}

#[test]
fn damaged_fields_are_read_as_absent_and_unknown_events_are_kept() {
    let data = json!({"outcome": 7, "duration_ms": "slow", "exit_code": 2});
    let AuditData::StepEnd(step) = AuditData::parse("step_end", &data) else {
        panic!("not a step_end");
    };
    assert_eq!(step.outcome, None);
    assert_eq!(step.duration_ms, None);
    assert_eq!(step.exit_code, Some(Some(2)));
    let odd = json!({"anything": 1});
    assert_eq!(
        AuditData::parse("from_the_future", &odd),
        AuditData::Unknown(odd.clone())
    );
    assert_eq!(
        AuditData::parse("step_end", &json!("text")),
        AuditData::Unknown(json!("text"))
    );
}
