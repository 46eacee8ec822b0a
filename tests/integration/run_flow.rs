//! Flow control through the real binary at every depth: `continue_on_failure`, both `skip_if`
//! forms, `break_if` on steps inside groups inside loops, and the group outcome of example D
//! (workflow-format.md §16).

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, stable, wf};
use crate::test::Test;

#[test]
fn break_if_in_a_group_inside_a_loop_and_skip_if_at_every_depth() {
    let out = Test::new()
        .write(
            &wf("flow"),
            r#"name: flow
steps:
  - id: retry
    loop: {max: 3, as_index: i}
    steps:
      - id: g
        steps:
          - id: check
            command: test {{i}} = 1
            continue_on_failure: true
            break_if: success
          - id: after
            skip_if: "sh: test {{i}} = 0"
            command: echo after-{{i}}
  - id: fails
    loop: {max: 2}
    steps:
      - id: boom
        command: exit 4
        break_if: failure
  - id: next
    skip_if: previous_success
    command: echo never
  - id: end
    command: echo end
"#,
        )
        .args(["flow"])
        .stdout("end\n")
        .run();
    assert_eq!(
        stable(&out.stderr),
        r#"agent-runner: running workflow "flow" (run flow-<ID>)

==> 1/4 retry [loop x3]
==> 1/4 retry > #1/3
==> 1/4 retry > #1/3 > g [group]
==> 1/4 retry > #1/3 > g > check [shell]
  command: test 0 = 1
  failed: exit status 1 (<D>); continuing because continue_on_failure is set
==> 1/4 retry > #1/3 > g > after [skipped: sh: test 0 = 0 exited 0]
  ok (<D>)
==> 1/4 retry > #2/3
==> 1/4 retry > #2/3 > g [group]
==> 1/4 retry > #2/3 > g > check [shell]
  command: test 1 = 1
  ok (<D>)
  break_if success matched: leaving loop "retry"
  ok (<D>)
  ok (<D>)
==> 2/4 fails [loop x2]
==> 2/4 fails > #1/2
==> 2/4 fails > #1/2 > boom [shell]
  command: exit 4
  failed: exit status 4 (<D>)
  break_if failure matched: leaving loop "fails"
  ok (<D>)
==> 3/4 next [skipped: previous step succeeded]
==> 4/4 end [shell]
  command: echo end
  ok (<D>)
agent-runner: workflow "flow" completed in <D> (2 ok, 2 skipped, 1 failed but continued)
"#
    );
    let run = only_run(out.tempdir.path());
    assert_eq!(
        run.skips(),
        [
            "retry[0]/g/after sh".to_owned(),
            "next previous_success".to_owned()
        ]
    );
    let loops: Vec<_> = run
        .events_named("step_end")
        .into_iter()
        .filter(|e| e["path"] == "retry" || e["path"] == "fails")
        .map(|e| {
            (
                e["data"]["outcome"].clone(),
                e["data"]["iterations"].clone(),
            )
        })
        .collect();
    assert_eq!(
        loops,
        vec![("success".into(), 2.into()), ("success".into(), 1.into())]
    );
}

#[test]
fn example_d_group_with_continued_failures_succeeds_so_previous_success_skips() {
    let out = Test::new()
        .write(
            &wf("release-check"),
            r#"name: release-check
steps:
  - id: checks
    steps:
      - { id: fmt, command: "false", continue_on_failure: true }
      - { id: clippy, command: "true", continue_on_failure: true }
  - id: explain
    skip_if: previous_success
    command: touch explained
  - id: tag
    command: touch tagged
    skip_if: "sh: test -n \"$(ls dirty 2>/dev/null)\""
"#,
        )
        .args(["release-check"])
        .stderr_contains("==> 2/3 explain [skipped: previous step succeeded]\n")
        .stderr_contains("(2 ok, 1 skipped, 1 failed but continued)\n")
        .run();
    assert!(!out.project().join("explained").exists());
    assert!(out.project().join("tagged").exists());
    let start = only_run(out.tempdir.path())
        .events_named("step_start")
        .into_iter()
        .find(|e| e["path"] == "tag")
        .unwrap();
    assert_eq!(
        start["data"]["skip_if"],
        serde_json::json!({"command": "test -n \"$(ls dirty 2>/dev/null)\"", "exit_code": 1})
    );
}

#[test]
fn a_failure_inside_a_group_runs_the_next_step_when_the_previous_outcome_failed() {
    // `continue_on_failure` on the group itself: the group fails, the run goes on, and the
    // step after it sees a failed previous outcome.
    let out = Test::new()
        .write(
            &wf("g"),
            r#"name: g
steps:
  - id: checks
    continue_on_failure: true
    steps:
      - { id: fmt, command: "exit 2" }
      - { id: never, command: touch never }
  - id: explain
    skip_if: previous_success
    command: touch explained
"#,
        )
        .args(["g"])
        .stderr_contains("  failed: exit status 2 (")
        .run();
    assert!(out.project().join("explained").exists());
    assert!(!out.project().join("never").exists());
    let stderr = stable(&out.stderr);
    assert!(
        stderr.contains(
            "==> 1/2 checks > fmt [shell]\n  command: exit 2\n  failed: exit status 2 (<D>)\n  failed: exit status 2 (<D>); continuing because continue_on_failure is set\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("(1 ok, 0 skipped, 0 failed but continued)\n"),
        "{stderr}"
    );
}

#[test]
fn a_stopping_failure_deep_in_the_tree_prints_the_full_display_path_and_exits_1() {
    let out = Test::new()
        .write(
            &wf("deep"),
            r#"name: deep
steps:
  - id: first
    command: "true"
  - id: outer
    loop: {max: 2, as_index: i}
    steps:
      - id: g
        steps:
          - id: work
            command: exit $((5 + {{raw i}})) # the loop index is the runner's own number
            skip_if: "sh: test {{i}} = 0"
"#,
        )
        .args(["deep"])
        .status(1)
        .run();
    let stderr = stable(&out.stderr);
    assert!(
        stderr.ends_with(
            "==> 2/2 outer > #2/2 > g > work [shell]\n  command: exit $((5 + 1))\n  failed: exit status 6 (<D>)\n  failed: exit status 6 (<D>)\n  failed: exit status 6 (<D>)\n\nagent-runner: step \"2/2 outer > #2/2 > g > work\" failed: exit status 6\nto resume: agent-runner --resume deep-<ID>\n"
        ),
        "{stderr}"
    );
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["status"], "failed");
    assert_eq!(
        state["last_failure"],
        serde_json::json!({"path": "outer[1]/g/work", "class": "exit_status", "message": "exit status 6"})
    );
    assert_eq!(state["position"]["state"], "failed");
    assert_eq!(state["position"]["loop"]["iteration"], 1);
    assert_eq!(state["position"]["child"]["child"]["step_id"], "work");
    assert_eq!(state["position"]["child"]["child"]["state"], "failed");
}
