//! State files written by an earlier agent-runner still resume. The fixture under
//! `tests/fixtures/state/` is the `state.json` that the binary of the first release (state
//! format 1) wrote for a run that failed in an agent step inside a loop, with its run id, project
//! path and session id replaced by placeholders.

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::test::Test;

const WORKFLOW: &str = include_str!("../fixtures/state/v1-failed-in-loop.workflow.yaml");
const STATE: &str = include_str!("../fixtures/state/v1-failed-in-loop.state.json");

/// Turn 3 (the second `review`) fails; every other turn succeeds.
const SCRIPT: &str = "- ~\n- ~\n- [{stderr: \"boom\"}, {exit: 3}]\n";

/// The document without its timestamps.
fn without_times(mut doc: Value) -> Value {
    if let Some(map) = doc.as_object_mut() {
        map.remove("created_at");
        map.remove("updated_at");
    }
    doc
}

#[test]
fn a_state_file_of_the_first_format_still_resumes() {
    let out = Test::new()
        .fake_clis(&["claude"])
        .fake_script(SCRIPT)
        .workflow("compat", WORKFLOW)
        .args(["-q", "compat"])
        .status(1)
        .run();
    let run_dir = out.run_dir();
    let run_id = out.run_id();
    let state = out.state();
    let session = state["named_sessions"]["planner"]["session_id"]
        .as_str()
        .expect("the named session was started")
        .to_owned();
    let project = state["project_dir"]
        .as_str()
        .expect("project dir")
        .to_owned();
    let old = STATE
        .replace("{{RUN_ID}}", &run_id)
        .replace("{{PROJECT}}", &project)
        .replace("{{SESSION}}", &session);
    let old_doc: Value = serde_json::from_str(&old).expect("the fixture is JSON");
    // This binary writes the same document the first format did for the same run.
    assert_eq!(without_times(state), without_times(old_doc));

    std::fs::write(run_dir.join("state.json"), &old).expect("write the old state");
    let out = out
        .again()
        .args(["--resume", &run_id])
        .stderr_contains(&format!(
            "resuming run {run_id} of workflow \"compat\" at 3/4 rounds > #2/2 > review"
        ))
        .run();
    let state = out.state();
    assert_eq!(state["status"], "completed");
    assert_eq!(state["position"], Value::Null);
    assert_eq!(state["scope"]["captures"]["planned"], "planned");
    // The failed step continued its own conversation with the settings recorded for it, and the
    // last step resumed the scope's latest session.
    let argvs = out.turn_argvs();
    let resumed = &argvs[3];
    assert!(
        resumed
            .windows(2)
            .any(|w| w == ["--resume", session.as_str()]),
        "{resumed:?}"
    );
    assert!(
        resumed.windows(2).any(|w| w == ["--effort", "high"]),
        "{resumed:?}"
    );
    assert!(
        argvs[4]
            .windows(2)
            .any(|w| w == ["--resume", session.as_str()])
    );
    assert_eq!(argvs.len(), 5);
}
