//! Groups and sub-workflows through the real binary: parameter scoping, captures that never cross
//! a sub-workflow boundary, a `workflow:` value rendered at run time, and the failures a call can
//! only meet at run time (a missing file, unknown or missing parameters, a cycle).

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, wf};
use crate::test::Test;

#[test]
fn a_child_sees_only_its_passed_params_and_defaults_and_captures_never_cross() {
    let out = Test::new()
        .write(
            &wf("parent"),
            r#"name: parent
params: [{name: secret_of_parent, default: p-only}]
steps:
  - id: mine
    command: echo parent-capture
    capture: shared_name
  - id: call
    workflow: child.yaml
    params: {given: "from {{shared_name}}"}
  - id: after
    command: printf '%s' {{shared_name}} > parent-after.txt
"#,
        )
        .write(
            ".agent-runner/workflows/child.yaml",
            r#"name: child
params:
  - {name: given}
  - {name: defaulted, default: "d-{{workflow_name}}"}
steps:
  - id: show
    command: >-
      printf '%s|%s|%s|%s' {{given}} {{defaulted}} "${AR_SECRET_OF_PARENT-unset}" "${AR_SHARED_NAME-unset}" > child.txt
  - id: shadow
    command: echo child-capture
    capture: shared_name
"#,
        )
        .args(["parent"])
        .stderr_contains("==> 2/3 call [sub-workflow]\n  workflow: child ([TMP]/project/.agent-runner/workflows/child.yaml)\n==> 2/3 call > show [shell]\n")
        .run();
    assert_eq!(
        out.read("child.txt"),
        "from parent-capture|d-child|unset|unset"
    );
    assert_eq!(out.read("parent-after.txt"), "parent-capture");
    let run = only_run(out.tempdir.path());
    let events = run.events();
    let from = events.iter().position(|e| e == "step_start call").unwrap();
    assert_eq!(
        events[from..from + 8],
        [
            "step_start call",
            "sub_workflow_start call",
            "step_start call/show",
            "step_end call/show",
            "step_start call/shadow",
            "step_end call/shadow",
            "sub_workflow_end call",
            "step_end call",
        ]
    );
    assert_eq!(
        run.events_named("sub_workflow_start")[0]["data"]["params"],
        serde_json::json!({"defaulted": "d-child", "given": "from parent-capture"})
    );
}

#[test]
fn a_dynamic_workflow_value_is_resolved_when_the_step_runs() {
    let out = Test::new()
        .write(
            &wf("a"),
            "name: a\nsteps: [{id: s, command: touch ran-a}]\n",
        )
        .write(
            &wf("b"),
            "name: b\nsteps: [{id: s, command: touch ran-b}]\n",
        )
        .write(
            &wf("pick"),
            r#"name: pick
steps:
  - id: choose
    command: echo b
    capture: which
  - id: call
    workflow: "{{which}}"
  - id: missing
    workflow: "{{which}}-gone"
"#,
        )
        .args(["pick"])
        .status(1)
        .stderr_contains(
            "agent-runner: step \"3/3 missing\" failed: sub-workflow not found: b-gone",
        )
        .run();
    assert!(out.project().join("ran-b").exists());
    assert!(!out.project().join("ran-a").exists());
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["last_failure"]["class"], "sub_workflow");
}

#[test]
fn unknown_and_missing_params_of_a_dynamic_call_fail_the_step() {
    let child = "name: child\nparams: [needed]\nsteps: [{id: s, command: \"true\"}]\n";
    Test::new()
        .write(&wf("child"), child)
        .write(
            &wf("p"),
            "name: p\nparams: [{name: w, default: child}]\nsteps:\n  - id: call\n    workflow: \"{{w}}\"\n    params: {neded: x}\n",
        )
        .args(["p"])
        .status(1)
        .stderr_contains("failed: sub-workflow \"child\" has no parameter \"neded\" (did you mean \"needed\"?)\n")
        .run();
    Test::new()
        .write(&wf("child"), child)
        .write(
            &wf("p"),
            "name: p\nparams: [{name: w, default: child}]\nsteps:\n  - id: call\n    workflow: \"{{w}}\"\n",
        )
        .args(["p"])
        .status(1)
        .stderr_contains("failed: sub-workflow \"child\" needs parameter \"needed\", which this step does not pass\n")
        .run();
}

#[test]
fn a_cycle_through_dynamic_calls_fails_at_run_time() {
    let out = Test::new()
        .write(
            &wf("ping"),
            "name: ping\nparams: [{name: next, default: pong}]\nsteps:\n  - id: call\n    workflow: \"{{next}}\"\n",
        )
        .write(
            &wf("pong"),
            "name: pong\nparams: [{name: next, default: ping}]\nsteps:\n  - id: call\n    workflow: \"{{next}}\"\n",
        )
        .args(["ping"])
        .status(1)
        .run();
    let dir = "[TMP]/project/.agent-runner/workflows";
    assert!(
        out.stderr.contains(&format!(
            "failed: sub-workflow cycle: {dir}/ping.yaml -> {dir}/pong.yaml -> {dir}/ping.yaml\n"
        )),
        "{}",
        out.stderr
    );
}
