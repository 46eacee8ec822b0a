//! Shell steps through the real binary: where output goes, `capture` and `capture_stderr`,
//! `workdir`, the environment a command sees, and that interpolated values never execute.

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, stable, wf};
use crate::test::Test;

#[test]
fn child_stdout_goes_to_stdout_and_runner_lines_to_stderr() {
    let out = Test::new()
        .write(
            &wf("route"),
            "name: route\nsteps:\n  - id: say\n    command: echo out; echo err >&2\n",
        )
        .args(["route"])
        .stdout("out\n")
        .run();
    assert_eq!(
        stable(&out.stderr),
        "agent-runner: running workflow \"route\" (run route-<ID>)\n\
         \n\
         ==> 1/1 say [shell]\n  command: echo out; echo err >&2\n\
         err\n  ok (<D>)\n\
         agent-runner: workflow \"route\" completed in <D> (1 ok, 0 skipped, 0 failed but continued)\n"
    );
    let run = only_run(out.tempdir.path());
    let start = &run.events_named("step_start")[0];
    assert_eq!(start["data"]["command"], "echo out; echo err >&2");
    let stem = format!("{:04}-say", start["seq"].as_u64().unwrap());
    assert_eq!(run.output(&format!("{stem}.stdout")), "out\n");
    assert_eq!(run.output(&format!("{stem}.stderr")), "err\n");
}

#[test]
fn capture_is_trimmed_and_stored_even_when_the_command_fails() {
    let out = Test::new()
        .write(
            &wf("cap"),
            r#"name: cap
steps:
  - id: make
    command: printf '  \n value one \n\n'; exit 3
    capture: v
    continue_on_failure: true
  - id: use
    command: printf '[%s]' {{v}} > got.txt
"#,
        )
        .args(["cap"])
        .stderr_contains("  failed: exit status 3 (")
        .stderr_contains("; continuing because continue_on_failure is set\n")
        .stderr_contains("(1 ok, 0 skipped, 1 failed but continued)\n")
        .run();
    assert_eq!(out.read("got.txt"), "[value one]");
    let run = only_run(out.tempdir.path());
    assert_eq!(run.state()["scope"]["captures"]["v"], "value one");
    let end = &run.events_named("step_end")[0];
    assert_eq!(end["data"]["outcome"], "failed");
    assert_eq!(end["data"]["continued"], true);
    assert_eq!(end["data"]["exit_code"], 3);
    assert_eq!(
        end["data"]["capture"],
        serde_json::json!({"name": "v", "bytes": 9})
    );
}

#[test]
fn capture_stderr_appends_a_marked_stderr_section_only_when_there_is_stderr() {
    let out = Test::new()
        .write(
            &wf("cap"),
            r#"name: cap
steps:
  - id: both
    command: echo ' out '; echo ' oops ' >&2
    capture: both
    capture_stderr: true
  - id: quiet
    command: echo only
    capture: quiet
    capture_stderr: true
  - id: errors-only
    command: echo nothing-on-stdout >&2
    capture: errs
    capture_stderr: true
"#,
        )
        .args(["cap"])
        .stdout(" out \nonly\n")
        .run();
    let captures = &only_run(out.tempdir.path()).state()["scope"]["captures"];
    assert_eq!(captures["both"], "out\n--- stderr ---\noops");
    assert_eq!(captures["quiet"], "only");
    assert_eq!(captures["errs"], "--- stderr ---\nnothing-on-stdout");
}

#[test]
fn workdir_is_relative_to_the_project_and_a_missing_one_fails_with_class_workdir() {
    let out = Test::new()
        .write("sub/dir/marker", "")
        .write(
            &wf("wd"),
            r#"name: wd
params: [{name: where, default: sub}]
steps:
  - id: inside
    workdir: "{{where}}/dir"
    command: ls > ../../listing.txt
  - id: missing
    workdir: nope
    command: touch ran-anyway
"#,
        )
        .args(["wd"])
        .status(1)
        .run();
    assert_eq!(out.read("listing.txt"), "marker\n");
    assert!(!out.project().join("ran-anyway").exists());
    let expected = "workdir \"nope\" does not exist (relative to [TMP]/project)";
    assert!(
        out.stderr.contains(&format!(
            "agent-runner: step \"2/2 missing\" failed: {expected}\n"
        )),
        "{}",
        out.stderr
    );
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["last_failure"]["class"], "workdir");
    assert_eq!(state["last_failure"]["path"], "missing");
}

#[test]
fn commands_see_workflow_and_step_env_ar_exports_and_runner_variables() {
    let out = Test::new()
        .write(
            &wf("envs"),
            r#"name: envs
params: [{name: change_name, default: login}]
env:
  SHARED: "wf-{{change_name}}"
  OVERRIDDEN: from-workflow
steps:
  - id: first
    command: echo captured-value
    capture: note
  - id: each
    loop: {max: 2, as_index: attempt}
    steps:
      - id: show
        env: {OVERRIDDEN: from-step}
        command: >-
          printf '%s\n' "$SHARED" "$OVERRIDDEN" "$AR_CHANGE_NAME" "$AR_NOTE" "$AR_ATTEMPT"
          "$AR_STEP_ID" "$AR_WORKFLOW_NAME" "$AGENT_RUNNER_STEP"
          "$AR_RUN_ID" "$AGENT_RUNNER_RUN_ID" "$AR_SESSION_DIR" "$AGENT_RUNNER_RUN_DIR"
          > "env-$AR_ATTEMPT.txt"
"#,
        )
        .args(["envs"])
        .run();
    let run = only_run(out.tempdir.path());
    let (id, dir) = (run.id(), run.dir.display().to_string());
    for attempt in ["0", "1"] {
        assert_eq!(
            out.read(&format!("env-{attempt}.txt")),
            format!(
                "wf-login\nfrom-step\nlogin\ncaptured-value\n{attempt}\nshow\nenvs\neach[{attempt}]/show\n{id}\n{id}\n{dir}\n{dir}\n"
            )
        );
    }
}

/// A value with every shell metacharacter that could run something if it were pasted in raw.
const HOSTILE: &str = r#"printf '%s' '$(touch pwned-dollar) `touch pwned-tick` "dq" it'"'"'s; touch pwned-semi'; printf '\n$(touch pwned-line2)'"#;

#[test]
fn interpolated_captures_never_execute_in_commands_or_skip_if() {
    let workflow = format!(
        r#"name: inject
steps:
  - id: evil
    command: {HOSTILE:?}
    capture: v
  - id: unquoted
    command: printf '%s' {{{{v}}}} > unquoted.txt
  - id: double-quoted
    command: printf '%s' "{{{{v}}}}" > double.txt
  - id: in-subshell
    command: printf '%s' "$(printf '%s' {{{{v}}}})" > subshell.txt
  - id: cond-unquoted
    skip_if: "sh: test {{{{v}}}} = nomatch"
    command: touch cond-unquoted-ran
  - id: cond-quoted
    skip_if: "sh: test \"{{{{v}}}}\" = \"$AR_V\""
    command: touch cond-quoted-ran
"#
    );
    let out = Test::new()
        .write(&wf("inject"), workflow)
        .args(["inject"])
        .run();
    let value = "$(touch pwned-dollar) `touch pwned-tick` \"dq\" it's; touch pwned-semi\n$(touch pwned-line2)";
    assert_eq!(
        only_run(out.tempdir.path()).state()["scope"]["captures"]["v"],
        value
    );
    for file in ["unquoted.txt", "double.txt", "subshell.txt"] {
        assert_eq!(out.read(file), value, "{file}");
    }
    let project = out.project();
    assert!(project.join("cond-unquoted-ran").exists());
    assert!(!project.join("cond-quoted-ran").exists());
    let pwned: Vec<_> = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("pwned"))
        .collect();
    assert_eq!(pwned, Vec::<String>::new(), "a captured value was executed");
}
