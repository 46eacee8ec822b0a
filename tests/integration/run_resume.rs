//! Resuming runs through the real binary (runs-and-state.md §5, cli.md §2): what runs again and
//! what does not at every depth, the ways to name the run, `--from`, changed and broken workflow
//! files, the run lock, and the errors for runs that cannot be resumed.

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, runs, stable, wf};
use crate::test::Test;

/// A loop whose body calls a sub-workflow with its own loop; `q` fails in the last inner
/// iteration of the last outer iteration until the file `fixed` exists.
const OUTER: &str = r#"name: outer
steps:
  - id: a
    command: echo a >> log.txt
  - id: l
    loop: {max: 2, as_index: i}
    steps:
      - id: x
        command: echo "x{{i}}" >> log.txt
      - id: call
        workflow: inner.yaml
        params: {outer: "{{i}}"}
  - id: z
    command: echo z >> log.txt
"#;

const INNER: &str = r#"name: inner
params: [outer]
steps:
  - id: m
    loop: {max: 2, as_index: j}
    steps:
      - id: p
        command: echo "p{{outer}}{{j}}" >> log.txt
      - id: q
        command: echo "q{{outer}}{{j}}" >> log.txt; test -f fixed || test {{outer}}{{j}} != 11
"#;

fn failed_nested_run() -> crate::test::Output {
    Test::new()
        .write(&wf("outer"), OUTER)
        .write(".agent-runner/workflows/inner.yaml", INNER)
        .args(["outer"])
        .status(1)
        .run()
}

#[test]
fn resume_reruns_only_the_failed_step_at_every_depth() {
    let out = failed_nested_run();
    assert_eq!(
        out.read("log.txt"),
        "a\nx0\np00\nq00\np01\nq01\nx1\np10\nq10\np11\nq11\n"
    );
    let run = only_run(out.tempdir.path());
    let id = run.id();
    assert!(out.stderr.ends_with(&format!(
        "agent-runner: step \"2/3 l > #2/2 > call > m > #2/2 > q\" failed: exit status 1\nto resume: agent-runner --resume {id}\n"
    )));
    std::fs::write(out.project().join("fixed"), "").unwrap();
    let before = run.audit().len() as u64;
    let out = out.then().args(["--resume"]).run();
    assert_eq!(
        out.read("log.txt"),
        "a\nx0\np00\nq00\np01\nq01\nx1\np10\nq10\np11\nq11\nq11\nz\n"
    );
    assert!(
        out.stderr.starts_with(&format!(
            "agent-runner: resuming run {id} of workflow \"outer\" at 2/3 l > #2/2 > call > m > #2/2 > q\n\n"
        )),
        "{}",
        out.stderr
    );
    let audit = run.audit();
    let resumed = &audit[before as usize];
    assert_eq!(resumed["event"], "run_start");
    assert_eq!(resumed["seq"], before + 1, "seq continues across resumes");
    assert_eq!(resumed["data"]["resumed"], true);
    assert_eq!(resumed["data"]["resume_from"], "l[1]/call/m[1]/q");
    let state = run.state();
    assert_eq!(state["status"], "completed");
    assert_eq!(state["position"], serde_json::Value::Null);
    // A completed run is not resumed again.
    out.then()
        .args(["--resume", &id])
        .stderr(&format!(
            "agent-runner: run {id} already completed; nothing to resume\n"
        ))
        .run();
}

#[test]
fn session_alone_and_resume_with_session_name_the_run() {
    let out = failed_nested_run();
    let id = only_run(out.tempdir.path()).id();
    let line = format!("agent-runner: resuming run {id} of workflow \"outer\" at ");
    let out = out
        .then()
        .args(["--session", &id])
        .status(1)
        .stderr_contains(&line)
        .run();
    let out = out
        .then()
        .args(["--resume", "--session", &id])
        .status(1)
        .stderr_contains(&line)
        .run();
    assert_eq!(out.read("log.txt").matches("q11").count(), 3);
}

#[test]
fn resume_errors_exit_2_with_the_spec_messages() {
    let out = Test::new()
        .write(
            &wf("demo"),
            "name: demo\nsteps: [{id: a, command: \"true\"}]\n",
        )
        .args(["--resume"])
        .status(2)
        .stderr("agent-runner: error: no failed or interrupted run to resume in this project\n")
        .run();
    let out = out
        .then()
        .args(["--resume", "demo"])
        .status(2)
        .stderr("agent-runner: error: no run \"demo\" in this project (see \"agent-runner list\"); to start workflow \"demo\", leave out --resume\n")
        .run();
    let out = out
        .then()
        .args(["--resume", "nope"])
        .status(2)
        .stderr(
            "agent-runner: error: no run \"nope\" in this project (see \"agent-runner list\")\n",
        )
        .run();
    let out = out.then().args(["demo"]).run();
    let id = only_run(out.tempdir.path()).id();
    out.then()
        .args(["--resume", &id, "extra=1"])
        .status(2)
        .stderr("agent-runner: error: --resume keeps the run's original parameters; remove \"extra=1\"\n")
        .run();
}

#[test]
fn a_changed_workflow_warns_and_continues_by_step_id() {
    let out = Test::new()
        .write(
            &wf("c"),
            "name: c\nsteps:\n  - {id: one, command: echo one >> log.txt}\n  - {id: two, command: test -f fixed}\n",
        )
        .args(["c"])
        .status(1)
        .run();
    // A new step before the failed one: the run continues at "two" by id and skips "new".
    std::fs::write(
        out.project().join(wf("c")),
        "name: c\nsteps:\n  - {id: new, command: echo new >> log.txt}\n  - {id: one, command: echo one >> log.txt}\n  - {id: two, command: echo two >> log.txt}\n",
    )
    .unwrap();
    let out = out
        .then()
        .args(["--resume"])
        .stderr_contains(
            "agent-runner: warning: [TMP]/project/.agent-runner/workflows/c.yaml changed since this run started; continuing by step id\n",
        )
        .run();
    assert_eq!(out.read("log.txt"), "one\ntwo\n");
}

#[test]
fn a_removed_step_stops_the_resume_with_exit_3() {
    let out = Test::new()
        .write(&wf("c"), "name: c\nsteps:\n  - {id: one, command: \"true\"}\n  - {id: two, command: \"false\"}\n")
        .args(["c"])
        .status(1)
        .run();
    let id = only_run(out.tempdir.path()).id();
    std::fs::write(
        out.project().join(wf("c")),
        "name: c\nsteps:\n  - {id: one, command: \"true\"}\n",
    )
    .unwrap();
    out.then()
        .args(["--resume"])
        .status(3)
        .stderr_contains(&format!(
            "agent-runner: error: cannot resume: step \"two\" no longer exists in [TMP]/project/.agent-runner/workflows/c.yaml; use --resume {id} --from <step> to choose where to continue\n"
        ))
        .run();
}

const FROM: &str = r#"name: f
steps:
  - {id: one, command: echo one >> log.txt, capture: c}
  - id: g
    steps:
      - {id: two, command: echo two >> log.txt}
      - {id: three, command: echo three >> log.txt}
  - {id: four, command: echo four >> log.txt}
"#;

#[test]
fn from_on_a_new_run_skips_earlier_steps_with_events_and_a_note() {
    let out = Test::new()
        .write(&wf("f"), FROM)
        .args(["f", "--from", "g/three"])
        .run();
    assert_eq!(out.read("log.txt"), "three\nfour\n");
    let stderr = stable(&out.stderr);
    assert!(
        stderr.starts_with(
            "agent-runner: running workflow \"f\" (run f-<ID>)\n\n\
             agent-runner: note: starting at \"g/three\"; earlier steps are skipped and their captures are unset\n\
             ==> 1/3 one [skipped: --from]\n\
             ==> 2/3 g > two [skipped: --from]\n"
        ),
        "{stderr}"
    );
    let run = only_run(out.tempdir.path());
    assert_eq!(
        run.skips(),
        ["one from".to_owned(), "g/two from".to_owned()]
    );
    assert_eq!(run.audit()[0]["data"]["from"], "g/three");
}

#[test]
fn from_with_resume_reruns_a_completed_step_and_an_unknown_step_exits_2() {
    let out = Test::new()
        .write(
            &wf("f"),
            FROM.replace("echo four >> log.txt", "test -f fixed"),
        )
        .args(["f"])
        .status(1)
        .run();
    std::fs::write(out.project().join("fixed"), "").unwrap();
    let out = out
        .then()
        .args(["--resume", "--from", "g/thre"])
        .status(2)
        .stderr(
            "agent-runner: error: no step \"g/thre\" in workflow \"f\" (did you mean \"three\"?)\n",
        )
        .run();
    let out = out.then().args(["--resume", "--from", "g/two"]).run();
    assert_eq!(out.read("log.txt"), "one\ntwo\nthree\ntwo\nthree\n");
    // The capture of "one" is kept.
    assert_eq!(
        only_run(out.tempdir.path()).state()["scope"]["captures"]["c"],
        ""
    );
}

#[test]
fn corrupt_or_newer_state_exits_3_and_leaves_the_file_untouched() {
    let out = Test::new()
        .write(
            &wf("c"),
            "name: c\nsteps: [{id: one, command: \"false\"}]\n",
        )
        .args(["c"])
        .status(1)
        .run();
    let run = only_run(out.tempdir.path());
    let id = run.id();
    let path = run.dir.join("state.json");
    let corrupt = b"{\"format_version\": 1, \"run_id\": trunc".to_vec();
    std::fs::write(&path, &corrupt).unwrap();
    let out = out.then().args(["--resume", &id]).status(3).run();
    assert!(
        out.stderr.starts_with(&format!(
            "agent-runner: error: state of run {id} is unreadable ("
        )) && out.stderr.ends_with("); the file was left as it is\n"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&path).unwrap(), corrupt);
    let mut newer = serde_json::to_string_pretty(
        &serde_json::json!({"format_version": 7, "run_id": id, "status": "failed"}),
    )
    .unwrap();
    newer.push('\n');
    std::fs::write(&path, &newer).unwrap();
    // Keep the output: it owns the temp dir the file lives in.
    let _out = out
        .then()
        .args(["--resume", &id])
        .status(3)
        .stderr(&format!("agent-runner: error: run {id} was written by a newer agent-runner (state format 7); upgrade to resume it\n"))
        .run();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), newer);
}

#[test]
fn an_unusable_state_dir_exits_4_before_any_step_runs() {
    let test = Test::new().write(
        &wf("c"),
        "name: c\nsteps: [{id: one, command: touch ran}]\n",
    );
    let file = test.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = test
        .env(
            "AGENT_RUNNER_HOME",
            &file.join("state").display().to_string(),
        )
        .args(["c"])
        .status(4)
        .stderr_contains("agent-runner: error: cannot create [TMP]/not-a-dir/state/projects/")
        .stderr_contains("Not a directory")
        .run();
    assert!(!out.project().join("ran").exists());
    assert!(runs(out.tempdir.path()).is_empty());
}
